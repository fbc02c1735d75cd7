"""Shop use-cases against the panel simulator over loopback HTTP and a real SQLite file."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from fulfillment.models import ServiceType
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.parsing import InputError
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

ADMIN = 9000


@pytest.fixture
async def shop(tmp_path, panel):
    _sim, client = panel
    async with Database(tmp_path / "shop.sqlite3") as db:
        settings = ShopSettings(admin_ids=(ADMIN,), exchange_rate=Decimal(1400),
                                markup_percent=Decimal(50))  # fmt: skip
        s = Shop(ShopContext(db=db, panel=client, settings=settings, clock=ManualClock()))
        await s.catalog.sync()
        yield s


async def customer(shop: Shop, tg: int = 1, balance: int = 0) -> int:
    user = await shop.users.ensure(tg, f"user{tg}", "고객", "ko")
    if balance:
        topup = await shop.topups.request_bank(user.id, balance, f"입금자{tg}")
        assert (await shop.topups.approve(topup.id, ADMIN)).balance == balance
    return user.id


async def service_of(shop: Shop, panel_id: str):
    return next(s for s in await shop.catalog.all() if s.panel_id == panel_id)


async def test_catalog_sync_prices_and_hides_unsupported(shop: Shop):
    services = await shop.catalog.all()
    assert len(services) == 10
    poll = await service_of(shop, "701")
    assert poll.type == ServiceType.OTHER and not poll.sellable
    sellable = await shop.catalog.sellable()
    assert poll.id not in {s.id for s in sellable}
    likes = await service_of(shop, "202")  # rate 0.0002 USD: 0.42 원 → at least 1 원
    assert shop.catalog.price_per_1000(likes) == 1
    kr = await service_of(shop, "101")  # 9.80 × 1400 × 1.5 = 20,580
    assert shop.catalog.price_per_1000(kr) == 20580


async def test_place_order_debits_once_and_records_panel_id(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop, balance=50_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=1000)
    )
    assert q.price == 20580 and q.balance_after == 50_000 - 20580
    result = await shop.orders.place(uid, q.token)
    assert result.outcome == PlaceOutcome.PLACED
    assert result.order.panel_order_id == str(sim.add_records[0].order)
    again = await shop.orders.place(uid, q.token)  # the double tap
    assert again.outcome == PlaceOutcome.REPLAYED and again.order.id == result.order.id
    assert (await shop.users.get(uid)).balance == 50_000 - 20580
    assert sim.orders_created() == 1
    assert all(not v for v in (await shop.check_ledger()).values())


async def test_insufficient_balance_says_how_much_is_missing(shop: Shop):
    uid = await customer(shop, balance=10_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=1000)
    )
    result = await shop.orders.place(uid, q.token)
    assert result.outcome == PlaceOutcome.INSUFFICIENT and result.missing == 10580
    assert (await shop.users.get(uid)).balance == 10_000


async def test_duplicate_job_is_refused_until_the_first_finishes(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop, balance=100_000)
    svc = await service_of(shop, "101")
    inp = OrderInput(link="https://instagram.com/a", quantity=100)
    first = await shop.orders.place(uid, (await shop.orders.quote(uid, svc.id, inp)).token)
    assert first.outcome == PlaceOutcome.PLACED
    second = await shop.orders.place(uid, (await shop.orders.quote(uid, svc.id, inp)).token)
    assert second.outcome == PlaceOutcome.DUPLICATE_JOB
    sim.set_order(first.order.panel_order_id, status="Completed")
    await shop.fulfilment.poll_once()
    third = await shop.orders.place(uid, (await shop.orders.quote(uid, svc.id, inp)).token)
    assert third.outcome == PlaceOutcome.PLACED


async def test_panel_rejection_fails_and_refunds_in_full(shop: Shop, panel):
    sim, _ = panel
    sim.set_balance("0")  # the panel answers "Not enough funds on balance"
    uid = await customer(shop, balance=30_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=100)
    )
    result = await shop.orders.place(uid, q.token)
    assert result.outcome == PlaceOutcome.FAILED
    assert result.order.amount_used == 0
    assert (await shop.users.get(uid)).balance == 30_000
    assert all(not v for v in (await shop.check_ledger()).values())


async def test_add_timeout_goes_to_review_and_is_never_resent(shop: Shop, panel):
    sim, client = panel
    client._http.timeout = httpx.Timeout(0.3)
    sim.set_quirk("slow_add", times=1, value=2.0)
    uid = await customer(shop, balance=30_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=100)
    )
    result = await shop.orders.place(uid, q.token)
    assert result.outcome == PlaceOutcome.NEEDS_REVIEW
    assert (await shop.users.get(uid)).balance == 30_000 - result.order.price  # debit kept
    await shop.orders.recover()  # start-up recovery never resubmits a review order
    sim.release_slow()
    assert len(sim.adds()) == 1


@pytest.mark.parametrize(
    ("word", "remains", "refund"),
    [("Completed", 0, 0), ("Partial", 40, 823), ("Canceled", None, 2058)],
)
async def test_terminal_status_refunds_once_however_often_polled(
    shop, panel, word, remains, refund
):
    sim, _ = panel
    uid = await customer(shop, balance=10_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=100)
    )
    placed = await shop.orders.place(uid, q.token)
    assert placed.order.price == 2058
    sim.set_order(placed.order.panel_order_id, status="In progress", remains=60, start_count=5)
    await shop.fulfilment.poll_once()
    sim.set_order(placed.order.panel_order_id, status=word, remains=remains)
    for _ in range(10):
        await shop.fulfilment.poll_once()
    order = await shop.orders.get_for_user(uid, placed.order.id)
    assert order.status == word.lower()
    assert order.refunded == refund and order.amount_used == 2058 - refund
    assert (await shop.users.get(uid)).balance == 10_000 - 2058 + refund
    assert all(not v for v in (await shop.check_ledger()).values())
    rows = await shop.ctx.db.fetch_all(
        "SELECT event FROM outbox WHERE dedupe_key LIKE ?", (f"order:{order.id}:%",)
    )
    assert [r["event"] for r in rows] == [f"order_{word.lower()}"]


async def test_fifty_concurrent_placements_on_a_balance_for_ten(shop: Shop):
    svc = await service_of(shop, "202")  # 1 원 per 1000 → price 1 for qty ≤ 1000
    uid = await customer(shop, balance=5_000)
    per = shop.catalog.price_per_1000(svc)
    quotes = [
        await shop.orders.quote(uid, svc.id, OrderInput(link=f"https://instagram.com/p/{i}",
                                                        quantity=1000 * 500))
        for i in range(50)
    ]  # fmt: skip
    price = quotes[0].price
    assert price == per * 500 == 500
    results = await asyncio.gather(*(shop.orders.place(uid, q.token) for q in quotes))
    placed = [r for r in results if r.outcome == PlaceOutcome.PLACED]
    assert len(placed) == 10
    assert sum(r.outcome == PlaceOutcome.INSUFFICIENT for r in results) == 40
    assert (await shop.users.get(uid)).balance == 0
    debits = await shop.ctx.db.fetch_all("SELECT * FROM ledger WHERE kind = 'order'")
    assert len(debits) == 10
    assert all(not v for v in (await shop.check_ledger()).values())


async def test_same_token_confirmed_concurrently_makes_one_order(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop, balance=50_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=100)
    )
    results = await asyncio.gather(*(shop.orders.place(uid, q.token) for _ in range(5)))
    assert sum(r.outcome == PlaceOutcome.PLACED for r in results) == 1
    assert {r.order.id for r in results} == {results[0].order.id}
    assert sim.orders_created() == 1
    assert (await shop.users.get(uid)).balance == 50_000 - q.price


async def test_another_customers_token_or_order_is_refused(shop: Shop):
    a = await customer(shop, 1, balance=50_000)
    b = await customer(shop, 2, balance=50_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(a, svc.id, OrderInput(link="https://instagram.com/a", quantity=100))
    assert (await shop.orders.place(b, q.token)).outcome == PlaceOutcome.NOT_FOUND
    placed = await shop.orders.place(a, q.token)
    assert await shop.orders.get_for_user(b, placed.order.id) is None
    assert (await shop.orders.request_cancel(b, placed.order.id)).code == "order.not_found"
    assert (await shop.users.get(b)).balance == 50_000


async def test_expired_quote_is_refused(shop: Shop):
    uid = await customer(shop, balance=50_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=100)
    )
    shop.ctx.clock.advance(minutes=16)
    assert (await shop.orders.place(uid, q.token)).outcome == PlaceOutcome.EXPIRED
    assert (await shop.users.get(uid)).balance == 50_000


async def test_quoted_price_is_honoured_after_a_rate_change(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop, balance=50_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=100)
    )
    sim.services[101].rate = Decimal("20.00")
    await shop.catalog.sync()
    placed = await shop.orders.place(uid, q.token)
    assert placed.order.price == q.price == 2058


async def test_recovery_submits_created_and_reviews_submitting(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop, balance=50_000)
    svc = await service_of(shop, "101")
    tokens = []
    for i in range(2):
        inp = OrderInput(link=f"https://instagram.com/{i}", quantity=100)
        tokens.append((await shop.orders.quote(uid, svc.id, inp)).token)
    # Simulate a crash after the debit commit: create the rows without submitting.
    ids = []
    for tok in tokens:
        q = await shop.ctx.db.fetch_one("SELECT * FROM quotes WHERE token = ?", (tok,))
        inp = OrderInput(link=f"https://instagram.com/{len(ids)}", quantity=100)
        ids.append(await shop.orders._create(uid, svc, inp, q))
    async with shop.ctx.db.transaction() as conn:
        await conn.execute("UPDATE orders SET status = 'submitting' WHERE id = ?", (ids[1],))
    report = await shop.orders.recover()
    assert report == {"submitted": 1, "review": 1}
    assert (await shop.orders.get_for_user(uid, ids[0])).status == "pending"
    assert (await shop.orders.get_for_user(uid, ids[1])).status == "needs_review"
    assert sim.orders_created() == 1


async def test_subscription_reserve_is_settled_from_child_charges(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop, balance=200_000)
    svc = await service_of(shop, "601")  # 2.80 USD → 5,880 원 per 1000
    inp = OrderInput(username="mask24", sub_min=100, sub_max=200, sub_posts=5, sub_delay=0)
    q = await shop.orders.quote(uid, svc.id, inp)
    assert q.units == 1000 and q.price == 5880
    placed = await shop.orders.place(uid, q.token)
    assert placed.outcome == PlaceOutcome.PLACED
    sub_id = placed.order.panel_order_id
    posts = [sim.new_post(sub_id, quantity=150), sim.new_post(sub_id, quantity=100)]
    await shop.fulfilment.poll_once()
    sim.end_subscription(sub_id, "Expired")
    await shop.fulfilment.poll_once()  # the posts' orders are still running: no settlement
    assert (await shop.orders.get_for_user(uid, placed.order.id)).refunded == 0
    for post in posts:
        sim.set_order(post.ext_id, status="Completed")
    shop.ctx.clock.advance(minutes=5)
    await shop.fulfilment.poll_once()
    order = await shop.orders.get_for_user(uid, placed.order.id)
    assert order.status == "completed" and order.delivered == 250
    cost = 1470  # ceil(5880 × 250 / 1000)
    assert order.amount_used == cost
    assert (await shop.users.get(uid)).balance == 200_000 - cost
    assert all(not v for v in (await shop.check_ledger()).values())


async def test_input_validation_reasons(shop: Shop):
    uid = await customer(shop)
    svc = await service_of(shop, "101")
    with pytest.raises(InputError) as err:
        await shop.orders.quote(uid, svc.id, OrderInput(link="https://instagram.com/a", quantity=5))
    assert err.value.code == "input.out_of_range" and err.value.params == {"min": 10, "max": 5000}
    sub = await service_of(shop, "601")
    with pytest.raises(InputError) as err:
        await shop.orders.quote(uid, sub.id, OrderInput(username="x", sub_min=300, sub_max=200,
                                                        sub_posts=1))  # fmt: skip
    assert err.value.code == "sub.max_below_min"


async def test_a_customer_blocked_after_the_card_cannot_pay_with_it(shop: Shop, panel):
    """The console blocks a customer while their confirmation card is still valid: the
    card is refused at payment, nothing is charged and nothing reaches the panel."""
    sim, _ = panel
    uid = await customer(shop, 41, balance=10_000)
    svc = await service_of(shop, "101")
    q = await shop.orders.quote(
        uid, svc.id, OrderInput(link="https://instagram.com/b", quantity=100)
    )
    assert await shop.admin.set_banned(ADMIN, uid, True, "chargeback")
    result = await shop.orders.place(uid, q.token)
    assert result.outcome == PlaceOutcome.BLOCKED
    assert (await shop.users.get(uid)).balance == 10_000 and not sim.adds()
    assert await shop.admin.set_banned(ADMIN, uid, False, "resolved")
    assert (await shop.orders.place(uid, q.token)).outcome == PlaceOutcome.PLACED
