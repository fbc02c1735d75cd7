"""Issue 11: every service type's money exact against the panel, one test (or two) per case.

Each finished order's refund must be floor(price × what the panel gave back ÷ what it
charged), read from the simulator's own books (``sim.accounting``), over real HTTP.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

from fulfillment.models import OrderStatus, PanelStatus
from fulfillment.parse import parse_body, parse_order_status
from sandbox.panel import PanelSimulator, SimService
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.parsing import InputError
from shop.settings import ShopSettings
from shop.settlement import OrderFacts, Returned, plain
from shop.shop import Shop
from storage.db import Database

ADMINS = (9000, 9001)


@pytest.fixture
async def shop(tmp_path, panel):
    _sim, client = panel
    async with Database(tmp_path / "shop.sqlite3") as db:
        settings = ShopSettings(admin_ids=ADMINS, exchange_rate=Decimal(1400),
                                markup_percent=Decimal(50))  # fmt: skip
        s = Shop(ShopContext(db=db, panel=client, settings=settings, clock=ManualClock()))
        await s.catalog.sync()
        yield s


async def customer(shop: Shop, tg: int = 1, balance: int = 1_000_000) -> int:
    user = await shop.users.ensure(tg, f"user{tg}", "고객", "ko")
    topup = await shop.topups.request_bank(user.id, balance, f"입금자{tg}")
    await shop.topups.approve(topup.id, ADMINS[0])
    return user.id


async def place(shop: Shop, uid: int, panel_service: str, **inp):
    svc = next(s for s in await shop.catalog.all() if s.panel_id == panel_service)
    q = await shop.orders.quote(uid, svc.id, OrderInput(**inp))
    result = await shop.orders.place(uid, q.token)
    assert result.outcome == PlaceOutcome.PLACED, result
    return result.order


def fair(sim: PanelSimulator, panel_id: str, price: int) -> int:
    """floor(price × returned ÷ charged), from the panel's books."""
    books = sim.accounting(panel_id)
    return int(price * Fraction(books.refunded) / Fraction(books.charged))


async def poll(shop: Shop, clock_minutes: float = 5) -> None:
    shop.ctx.clock.advance(minutes=clock_minutes)
    await shop.fulfilment.poll_once()


async def order_of(shop: Shop, uid: int, order_id: int):
    order = await shop.orders.get_for_user(uid, order_id)
    assert order is not None
    return order


async def ledger_ok(shop: Shop) -> None:
    broken = {k: v for k, v in (await shop.check_ledger()).items() if v}
    assert not broken, broken


async def outbox(shop: Shop, event: str) -> list[dict]:
    rows = await shop.ctx.db.fetch_all("SELECT * FROM outbox WHERE event = ? ORDER BY id", (event,))
    return [dict(r) | {"payload": json.loads(r["payload"])} for r in rows]


# ---- case 1: a package refunds by its real quantity ------------------------------------


async def test_package_partial_refunds_only_the_undelivered_share(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    order = await place(shop, uid, "401", link="https://instagram.com/pkg")  # 100 per package
    pid = order.panel_order_id
    sim.set_order(pid, status="In progress", remains=60)
    await poll(shop)
    sim.set_order(pid, status="Partial", remains=10)  # 90 of 100 delivered
    await poll(shop)
    final = await order_of(shop, uid, order.id)
    assert final.status == "partial"
    assert final.refunded == fair(sim, pid, order.price) == order.price * 10 // 100
    assert (final.delivered, final.remains, final.package_qty) == (90, 10, 100)
    await ledger_ok(shop)


async def test_package_of_unlisted_size_is_learned_or_reviewed_never_guessed(shop: Shop, panel):
    sim, _ = panel
    # A panel that lists its package as 1/1: the size shows only in its first answer.
    sim.add_service(SimService(402, "패키지 250", "Package", "인스타그램 패키지", Decimal("5"),
                               1, 1, package_quantity=250))  # fmt: skip
    await shop.catalog.sync()
    uid = await customer(shop)
    seen = await place(shop, uid, "402", link="https://instagram.com/a")
    await poll(shop)  # Pending, remains 250: that is the package
    sim.set_order(seen.panel_order_id, status="Partial", remains=50)
    unseen = await place(shop, uid, "402", link="https://instagram.com/b")
    sim.set_order(unseen.panel_order_id, status="Partial", remains=50)
    await poll(shop)
    learned = await order_of(shop, uid, seen.id)
    assert learned.status == "partial" and learned.package_qty == 250
    assert learned.refunded == fair(sim, seen.panel_order_id, seen.price)
    unknown = await order_of(shop, uid, unseen.id)
    assert (unknown.status, unknown.refunded) == ("needs_review", 0)  # not 100 %
    assert len(await outbox(shop, "admin_review")) == len(ADMINS)
    await ledger_ok(shop)


async def test_panel_that_lowers_charge_is_read_from_the_charge(shop: Shop, panel):
    sim, _ = panel
    sim.lowers_charge = True
    uid = await customer(shop)
    order = await place(shop, uid, "101", link="https://instagram.com/x", quantity=1000)
    await poll(shop)  # the full charge is seen while the order runs
    sim.set_order(order.panel_order_id, status="Partial", remains=333)
    await poll(shop)
    final = await order_of(shop, uid, order.id)
    assert final.refunded == fair(sim, order.panel_order_id, order.price) > 0
    # ...and the shop learned how this panel shows charges (auto-likes need it).
    assert await shop.ctx.db.fetch_one("SELECT value FROM kv WHERE key = 'charge_style'")


# ---- case 2: drip-feed and the customer's cancel ------------------------------------


@pytest.mark.parametrize("report", ["children", "counters", "both"])
async def test_dripfeed_canceled_after_runs_refunds_only_the_runs_not_delivered(
    shop: Shop, panel, report: str
):
    sim, client = panel
    sim.dripfeed_report = report
    uid = await customer(shop)
    order = await place(shop, uid, "102", link="https://instagram.com/d", quantity=100,
                        runs=4, interval=5)  # fmt: skip
    pid = order.panel_order_id
    sim.advance(2)  # two runs sent
    await poll(shop)
    assert (await client.cancel([pid]))[pid] is True  # e.g. the owner, in the panel
    for _ in range(10):
        sim.advance()
    assert sim.order(pid).status == "Canceled"
    await poll(shop)
    final = await order_of(shop, uid, order.id)
    assert final.refunded == fair(sim, pid, order.price)
    assert 0 < final.refunded < order.price and final.status == "partial"
    await ledger_ok(shop)


async def test_customer_cancel_checks_the_panel_first(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    drip = await place(shop, uid, "102", link="https://instagram.com/e", quantity=100,
                       runs=3, interval=5)  # fmt: skip
    sim.advance()  # the panel started a run; the shop's last poll still says pending
    svc = await shop.catalog.get(drip.service_id)
    stale = await order_of(shop, uid, drip.id)
    assert stale.status == "pending" and shop.orders.can_cancel(stale, svc)
    assert not await shop.orders.cancel_offered(stale, svc)  # no button
    result = await shop.orders.request_cancel(uid, drip.id)  # an old button pressed
    assert result.code == "cancel.not_allowed"
    assert not sim.order(drip.panel_order_id).cancel_requested
    assert (await order_of(shop, uid, drip.id)).status == "in_progress"
    # Still queued at the panel: the cancel goes through and money moves on its answer.
    plain = await place(shop, uid, "201", link="https://instagram.com/f", quantity=100)
    result = await shop.orders.request_cancel(uid, plain.id)
    assert result.code == "cancel.requested"
    assert (await order_of(shop, uid, plain.id)).refunded == 0  # a request, not a refund
    sim.advance()
    await poll(shop)
    final = await order_of(shop, uid, plain.id)
    assert final.status == "canceled" and final.refunded == plain.price
    assert final.refunded == fair(sim, plain.panel_order_id, plain.price)


# ---- case 3: auto-likes settle only on every post's final answer ---------------------


async def test_auto_likes_wait_for_every_post_and_review_one_that_fails(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    sub = await place(shop, uid, "601", username="mask24", sub_min=100, sub_max=200,
                      sub_posts=3, sub_delay=0)  # fmt: skip
    pid = sub.panel_order_id
    posts = [sim.new_post(pid, quantity=q) for q in (150, 100, 120)]
    sim.advance(6)
    sim.forget_order(posts[2].id)  # the panel answers "Incorrect order ID" for one post
    sim.end_subscription(pid, "Completed")
    await poll(shop)
    waiting = await order_of(shop, uid, sub.id)
    assert waiting.status == "pending" and waiting.refunded == 0  # not settled as 0
    shop.ctx.clock.advance(hours=71)
    await poll(shop)
    assert await shop.fulfilment.review_stuck() == 0
    shop.ctx.clock.advance(hours=2)
    assert await shop.fulfilment.review_stuck() == 1
    assert await shop.fulfilment.review_stuck() == 0
    assert (await order_of(shop, uid, sub.id)).status == "needs_review"
    assert len(await outbox(shop, "admin_review")) == len(ADMINS)  # told once
    await ledger_ok(shop)


@pytest.mark.parametrize("omit", [False, True])
async def test_auto_likes_settle_from_all_posts_once_they_answer(shop: Shop, panel, omit: bool):
    sim, _ = panel
    uid = await customer(shop)
    sub = await place(shop, uid, "601", username="likes", sub_min=100, sub_max=200,
                      sub_posts=3, sub_delay=0)  # fmt: skip
    pid = sub.panel_order_id
    posts = [sim.new_post(pid, quantity=q) for q in (150, 100, 120)]
    sim.advance(6)
    sim.forget_order(posts[1].id, omit=omit)  # an error, or left out of the answer
    sim.end_subscription(pid, "Completed")
    await poll(shop)
    assert (await order_of(shop, uid, sub.id)).refunded == 0
    sim.remember_order(posts[1].id)
    await poll(shop, clock_minutes=120)
    final = await order_of(shop, uid, sub.id)
    kept = sum(int(sim.accounting(p.id).kept * 1000 / Decimal("2.80")) for p in posts)
    assert final.status == "completed" and final.delivered == kept
    reserve = 200 * 3
    assert final.refunded == sub.price * (reserve - kept) // reserve
    await ledger_ok(shop)


# ---- case 4: orders the panel forgets ----------------------------------------------


async def test_forgotten_order_reaches_review_once_and_admin_refunds_it(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    link = "https://instagram.com/lost"
    order = await place(shop, uid, "101", link=link, quantity=100)
    sim.forget_order(order.panel_order_id)
    for _ in range(71):
        await poll(shop, clock_minutes=60)
        assert await shop.fulfilment.review_stuck() == 0
    assert (await order_of(shop, uid, order.id)).status == "pending"
    shop.ctx.clock.advance(hours=2)
    assert await shop.fulfilment.review_stuck() == 1
    await poll(shop)
    assert await shop.fulfilment.review_stuck() == 0
    assert len(await outbox(shop, "admin_review")) == len(ADMINS)
    assert len(await outbox(shop, "order_review")) == 1
    # The link stays locked until an admin decides (FAQ 6).
    svc = await shop.catalog.get(order.service_id)
    q = await shop.orders.quote(uid, svc.id, OrderInput(link=link, quantity=100))
    assert (await shop.orders.place(uid, q.token)).outcome == PlaceOutcome.DUPLICATE_JOB
    with pytest.raises(InputError):
        await shop.admin.refund_order(ADMINS[0], order.id, " ")  # a reason is required
    assert (await shop.admin.refund_order(123, order.id, "x" * 5)).decision == "forbidden"
    done = await shop.admin.refund_order(ADMINS[1], order.id, "패널이 주문을 잊음")
    assert done.order.status == "failed" and done.order.refunded == order.price
    again = await shop.admin.refund_order(ADMINS[0], order.id, "두 번째")
    assert again.decision == "already"
    (audit,) = await shop.ctx.db.fetch_all("SELECT * FROM audit WHERE action = 'order.refund'")
    assert "패널이 주문을 잊음" in audit["after"] and audit["actor_id"] == ADMINS[1]
    sim.set_order(order.panel_order_id, status="Canceled")  # the owner canceled it there
    q = await shop.orders.quote(uid, svc.id, OrderInput(link=link, quantity=100))
    assert (await shop.orders.place(uid, q.token)).outcome == PlaceOutcome.PLACED
    await ledger_ok(shop)


async def test_stalled_order_reaches_review_and_admin_reattaches_it(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    order = await place(shop, uid, "101", link="https://instagram.com/slow", quantity=100)
    pid = order.panel_order_id
    sim.set_order(pid, status="In progress", remains=70)
    for _ in range(7):  # a week of polls, the panel's answer never moves after the first
        await poll(shop, clock_minutes=24 * 60)
        assert await shop.fulfilment.review_stuck() == 0
    assert (await order_of(shop, uid, order.id)).status == "in_progress"
    await poll(shop, clock_minutes=25 * 60)
    assert await shop.fulfilment.review_stuck() == 1
    assert (await order_of(shop, uid, order.id)).status == "needs_review"
    done = await shop.admin.attach_panel_order(ADMINS[0], order.id, pid, "패널에 확인함")
    assert done.decision == "done" and done.order.status == "pending"
    sim.set_order(pid, status="Completed")
    await poll(shop)
    assert (await order_of(shop, uid, order.id)).status == "completed"
    (audit,) = await shop.ctx.db.fetch_all(
        "SELECT * FROM audit WHERE action = 'order.attach_panel_id'"
    )
    assert "패널에 확인함" in audit["after"]


async def test_admin_refunds_any_unfinished_order_in_part_or_whole(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    a = await place(shop, uid, "101", link="https://instagram.com/1", quantity=100)
    b = await place(shop, uid, "101", link="https://instagram.com/2", quantity=100)
    sim.set_order(a.panel_order_id, status="In progress", remains=50)
    await poll(shop)
    with pytest.raises(InputError):
        await shop.admin.refund_order(ADMINS[0], a.id, "절반 전달", amount=a.price + 1)
    part = await shop.admin.refund_order(ADMINS[0], a.id, "절반 전달", amount=a.price // 2)
    assert (part.order.status, part.order.refunded) == ("partial", a.price // 2)
    whole = await shop.admin.refund_order(ADMINS[0], b.id, "고객 요청")
    assert (whole.order.status, whole.order.refunded) == ("failed", b.price)
    sim.set_order(a.panel_order_id, status="Partial", remains=10)
    await poll(shop)  # a late panel answer changes nothing any more
    assert (await order_of(shop, uid, a.id)).refunded == a.price // 2
    await ledger_ok(shop)


# ---- case 5: absurd numbers ---------------------------------------------------------------


def test_absurd_numbers_are_unknown_before_they_reach_the_shop():
    odd = parse_order_status(
        {"status": "Partial", "start_count": "9223372036854775808", "remains": "1e400",
         "charge": "-5", "runs": "1e12", "delivery": "-1"}
    )  # fmt: skip
    assert (odd.start_count, odd.remains, odd.charge, odd.runs, odd.runs_done) == (None,) * 5
    assert parse_order_status({"status": "x", "charge": "1E-40"}).charge is None
    fine = parse_order_status({"status": "Partial", "start_count": 12, "remains": "-2",
                               "charge": "0.00002"})  # fmt: skip
    assert (fine.start_count, fine.remains, fine.charge) == (12, -2, Decimal("0.00002"))
    # A number too long for Python's int() must not make the whole answer unreadable.
    body = b'{"1": {"status": "Completed", "start_count": ' + b"9" * 5000 + b"}}"
    data, ok = parse_body(body)
    assert ok and parse_order_status(data["1"]).start_count is None


async def test_absurd_start_count_blocks_neither_the_order_nor_the_others(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    a = await place(shop, uid, "101", link="https://instagram.com/h1", quantity=100)
    b = await place(shop, uid, "101", link="https://instagram.com/h2", quantity=100)
    sim.set_quirk("huge_numbers")  # start_count 2^63 on every order
    sim.set_order(a.panel_order_id, status="Partial", remains=40)
    sim.set_order(b.panel_order_id, status="In progress", remains=80)
    report = await shop.fulfilment.poll_once()
    assert report.errors == 0
    first, second = await order_of(shop, uid, a.id), await order_of(shop, uid, b.id)
    assert first.status == "partial" and first.refunded == fair(sim, a.panel_order_id, a.price)
    assert first.start_count is None and second.status == "in_progress"
    await ledger_ok(shop)


# ---- case 6: the panel changes min/max between the card and 확인 -------------------------


async def test_card_keeps_its_terms_when_the_panel_changes_its_limits(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    svc = next(s for s in await shop.catalog.all() if s.panel_id == "101")
    card = await shop.orders.quote(uid, svc.id, OrderInput(link="https://instagram.com/m",
                                                            quantity=10))  # fmt: skip
    other = await shop.orders.quote(uid, svc.id, OrderInput(link="https://instagram.com/n",
                                                             quantity=4000))  # fmt: skip
    sim.services[101].min, sim.services[101].max = 100, 3000
    await shop.catalog.sync()
    shown = await shop.orders.get_quote(uid, card.token)
    assert shown is not None and (shown.units, shown.price) == (10, card.price)
    # The panel now refuses 10: the card is honoured, the panel's no refunds it in full.
    failed = await shop.orders.place(uid, card.token)
    assert failed.outcome == PlaceOutcome.FAILED and failed.order.refunded == card.price
    # The shop synced new limits but the panel still takes the quoted 4000: placed at the
    # price shown.
    sim.services[101].max = 5000
    placed = await shop.orders.place(uid, other.token)
    assert placed.outcome == PlaceOutcome.PLACED and placed.order.price == other.price
    assert placed.order.quantity == 4000
    await ledger_ok(shop)


def test_charge_evidence_at_the_panels_precision():
    """A quoted cost with more digits than the panel prints is no refund; a lowered charge
    is; a charge equal to the cost proves nothing (the units decide)."""
    facts = OrderFacts(kind="order", service_type="default", quantity=123, runs=None,
                       package_qty=None, rate=Decimal("0.0002"), charge_seen=None)  # fmt: skip
    done = OrderStatus(PanelStatus.PARTIAL, "Partial", charge=Decimal("0.00002"), remains=23)
    assert plain(facts, done) == Returned(Fraction(23, 123), "remains", 100, 23)
    seen = replace(facts, rate=Decimal("2"), charge_seen=Decimal("0.246"))
    lowered = replace(done, charge=Decimal("0.123"))
    assert plain(seen, lowered).share == Fraction(1, 2)
    assert plain(seen, lowered).basis == "charge"
