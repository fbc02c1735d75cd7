"""shop/cards.py: card top-ups against the Toss stand-in over real HTTP and a real SQLite
file. Every path of issue 13 step 4 at the use-case level (the pages are in
test_pay_pages.py): one credit however often or however late the news arrives."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from payments.toss import TossClient, confirm_idempotency_key
from sandbox.toss import TEST_SECRET_KEY, TossServer, TossStandIn, serve_toss
from shop.cards import CheckoutStatus, PageState, Settle
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.parsing import InputError
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database
from tests.tossenv import pay


@dataclass
class CardEnv:
    shop: Shop
    db: Database
    toss: TossServer
    clock: ManualClock

    @property
    def sim(self) -> TossStandIn:
        return self.toss.sim

    async def customer(self, telegram_id: int = 501, lang: str = "ko") -> int:
        user = await self.shop.users.ensure(telegram_id, None, f"고객{telegram_id}", lang)
        return user.id

    async def balance(self, user_id: int) -> int:
        user = await self.shop.users.get(user_id)
        assert user is not None
        return user.balance

    async def ledger(self) -> list[sqlite3.Row]:
        return await self.db.fetch_all("SELECT * FROM ledger WHERE kind = 'topup'")

    async def invariants_hold(self) -> None:
        broken = {k: v for k, v in (await self.shop.check_ledger()).items() if v}
        assert not broken, broken


@pytest.fixture
async def card(tmp_path: Path) -> AsyncIterator[CardEnv]:
    clock = ManualClock()
    toss = await serve_toss(TossStandIn(clock=clock.now, auto_deliver=False))
    db = await Database(tmp_path / "shop.sqlite3").open()
    # 1.5 s: long enough for a loaded CI machine, short for the held "timeout" faults
    gateway = TossClient(TEST_SECRET_KEY, api_url=toss.url, timeout=1.5)
    settings = ShopSettings(public_url="https://shop.example", card_min=1000, card_max=500_000)
    ctx = ShopContext(db=db, panel=None, settings=settings, clock=clock, gateway=gateway)  # type: ignore[arg-type]
    try:
        yield CardEnv(Shop(ctx), db, toss, clock)
    finally:
        await gateway.aclose()
        await db.close()
        await toss.stop()


async def test_pay_and_credit_once_however_often_the_success_url_is_opened(card):
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 10_000)
    assert card.shop.cards.pay_url(c) == f"https://shop.example/pay/{c.token}"
    assert "10000" not in card.shop.cards.pay_url(c)
    page = await card.shop.cards.page(c.token)
    assert page is not None and page.state is PageState.PAYABLE and page.checkout.amount == 10_000
    q = (await pay(card.toss.url, c.order_id, 10_000)).query
    first = await card.shop.cards.settle(q["orderId"], q["paymentKey"], q["amount"], c.token)
    assert first.outcome is Settle.CREDITED and first.balance == 10_000
    # reload, another browser (no token), the same URL again: one credit
    for token in (c.token, None, c.token):
        again = await card.shop.cards.settle(q["orderId"], q["paymentKey"], q["amount"], token)
        assert again.outcome is Settle.ALREADY and again.balance == 10_000
    assert await card.balance(uid) == 10_000
    [row] = await card.ledger()
    assert (row["idem_key"], row["amount"]) == (f"card:{q['paymentKey']}", 10_000)
    [topup] = await card.db.fetch_all("SELECT * FROM topups")
    assert (topup["method"], topup["status"], topup["external_id"]) == (
        "card", "paid", q["paymentKey"])  # fmt: skip
    assert topup["receipt_url"].startswith("https://") and topup["pay_method"] == "카드"
    news = await card.db.fetch_all("SELECT * FROM outbox WHERE user_id = ?", (uid,))
    assert [(n["event"], json.loads(n["payload"])["balance"]) for n in news] == [
        ("topup_approved", 10_000)]  # fmt: skip
    paid = await card.shop.cards.page(c.token)
    assert paid is not None and paid.state is PageState.PAID
    [recent] = await card.shop.cards.recent_paid()
    assert (recent.topup.amount, recent.topup.pay_method) == (10_000, "카드")
    assert recent.customer.startswith("고객501") and "501" in recent.customer[5:]
    assert len([x for x in card.sim.confirms if x.answer == 200]) == 1
    await card.invariants_hold()


async def test_refused_before_anything_is_confirmed(card):
    uid = await card.customer()
    other = await card.customer(502)
    c = await card.shop.cards.create_checkout(uid, 10_000)
    theirs = await card.shop.cards.create_checkout(other, 20_000)
    q = (await pay(card.toss.url, c.order_id, 10_000)).query
    cards = card.shop.cards
    assert (await cards.settle("c_not_ours_123", q["paymentKey"], "10000")).outcome is (
        Settle.UNKNOWN_ORDER)  # fmt: skip
    # another customer's page token with this order
    assert (await cards.settle(c.order_id, q["paymentKey"], "10000", theirs.token)).outcome is (
        Settle.FOREIGN)  # fmt: skip
    for amount in ("100", "10000.0", "", "1e4", "9999"):
        assert (await cards.settle(c.order_id, q["paymentKey"], amount, c.token)).outcome is (
            Settle.TAMPERED), amount  # fmt: skip
    assert card.sim.confirms == []  # Toss was never asked
    assert await cards.page("no-such-token") is None
    assert (await cards.checkout(c.order_id)).status is CheckoutStatus.READY


async def test_amounts_follow_the_card_limits(card):
    uid = await card.customer()
    for amount in (999, 500_001):
        with pytest.raises(InputError) as err:
            await card.shop.cards.create_checkout(uid, amount)
        assert err.value.code == "input.out_of_range"
        assert err.value.params == {"min": 1000, "max": 500_000}


async def test_tampered_window_amount_is_never_credited(card):
    """The page's JS was edited to ask Toss for 100원: refused on return; and when the
    return URL is edited back to the stored amount, Toss refuses the confirm."""
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 10_000)
    q = (await pay(card.toss.url, c.order_id, 100)).query
    assert (await card.shop.cards.settle(c.order_id, q["paymentKey"], q["amount"])).outcome is (
        Settle.TAMPERED)  # fmt: skip
    result = await card.shop.cards.settle(c.order_id, q["paymentKey"], "10000", c.token)
    assert result.outcome is Settle.PENDING  # Toss said "invalid request": looked up, unclear
    assert await card.balance(uid) == 0
    card.clock.advance(minutes=11)  # Toss's 10-minute session runs out
    report = await card.shop.cards.reconcile()
    assert report.released == 1 and report.credited == 0
    assert (await card.shop.cards.checkout(c.order_id)).status is CheckoutStatus.READY
    assert await card.balance(uid) == 0 and await card.ledger() == []


async def test_declined_or_closed_window_keeps_the_checkout_payable(card):
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 5000)
    declined = await pay(card.toss.url, c.order_id, 5000, action="decline")
    assert declined.query["code"] == "REJECT_CARD_COMPANY"
    closed = await pay(card.toss.url, c.order_id, 5000, action="close")
    assert closed.query["code"] == "PAY_PROCESS_CANCELED"
    # a decline at confirm time: back to ready, then paid with another try
    q = (await pay(card.toss.url, c.order_id, 5000)).query
    card.sim.fail_next_confirm("decline")
    no = await card.shop.cards.settle(c.order_id, q["paymentKey"], "5000", c.token)
    assert no.outcome is Settle.DECLINED and no.code == "REJECT_CARD_PAYMENT" and no.message
    assert (await card.shop.cards.page(c.token)).state is PageState.PAYABLE
    q2 = (await pay(card.toss.url, c.order_id, 5000)).query
    ok = await card.shop.cards.settle(c.order_id, q2["paymentKey"], "5000", c.token)
    assert ok.outcome is Settle.CREDITED and await card.balance(uid) == 5000
    # the first (declined) paymentKey cannot settle it again
    late = await card.shop.cards.settle(c.order_id, q["paymentKey"], "5000", c.token)
    assert late.outcome is Settle.ALREADY and await card.balance(uid) == 5000


@pytest.mark.parametrize("fault", ["timeout_after_commit", "500_after_commit"])
async def test_confirm_lost_after_toss_committed_is_looked_up_and_credited_once(card, fault):
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 30_000)
    q = (await pay(card.toss.url, c.order_id, 30_000)).query
    card.sim.fail_next_confirm(fault)
    result = await card.shop.cards.settle(c.order_id, q["paymentKey"], "30000", c.token)
    assert result.outcome is Settle.CREDITED and result.balance == 30_000
    assert (await card.shop.cards.reconcile()).credited == 0
    again = await card.shop.cards.settle(c.order_id, q["paymentKey"], "30000", c.token)
    assert again.outcome is Settle.ALREADY
    assert await card.balance(uid) == 30_000 and len(await card.ledger()) == 1
    await card.invariants_hold()


async def test_unclear_confirm_and_lookup_then_reconcile_and_webhook_credit_once(card):
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 8000)
    q = (await pay(card.toss.url, c.order_id, 8000)).query
    card.sim.fail_next_confirm("500_after_commit")
    card.sim.lookup_faults = 1
    pending = await card.shop.cards.settle(c.order_id, q["paymentKey"], "8000", c.token)
    assert pending.outcome is Settle.PENDING and await card.balance(uid) == 0
    assert (await card.shop.cards.page(c.token)).state is PageState.CONFIRMING
    # Toss is still down for the first reconcile: nothing guessed
    card.sim.lookup_faults = 1
    assert (await card.shop.cards.reconcile()).unknown == 1
    assert await card.balance(uid) == 0
    report = await card.shop.cards.reconcile()
    assert report.credited == 1 and await card.balance(uid) == 8000
    # the webhook for that DONE arrives late, twice: nothing more
    card.sim.webhook_url = "http://127.0.0.1:9/unused"  # deliveries are built, not sent
    body = json.dumps({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-12T15:30:41",
                       "data": card.sim.payments[q["paymentKey"]].as_json()}).encode()  # fmt: skip
    for _ in range(2):
        assert await card.shop.cards.webhook(body) is True
    assert await card.balance(uid) == 8000 and len(await card.ledger()) == 1
    assert (await card.shop.cards.reconcile()).looked == 0
    await card.invariants_hold()


async def test_webhook_credits_a_confirm_whose_answer_was_lost(card):
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 12_000)
    q = (await pay(card.toss.url, c.order_id, 12_000)).query
    card.sim.fail_next_confirm("timeout_after_commit")
    card.sim.lookup_faults = 1
    assert (await card.shop.cards.settle(c.order_id, q["paymentKey"], "12000")).outcome is (
        Settle.PENDING)  # fmt: skip
    body = json.dumps({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-12T15:30:41",
                       "data": {"paymentKey": q["paymentKey"], "orderId": c.order_id,
                                "status": "DONE"}}).encode()  # fmt: skip
    assert await card.shop.cards.webhook(body) is True
    assert await card.balance(uid) == 12_000
    assert (await card.shop.cards.settle(c.order_id, q["paymentKey"], "12000")).outcome is (
        Settle.ALREADY)  # fmt: skip
    assert len(await card.ledger()) == 1


async def test_forged_webhook_credits_nothing(card):
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 9000)
    q = (await pay(card.toss.url, c.order_id, 9000)).query  # authenticated, never confirmed
    forged = {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-12T15:30:41",
              "data": {"paymentKey": q["paymentKey"], "orderId": c.order_id, "status": "DONE",
                       "totalAmount": 9000, "currency": "KRW"}}  # fmt: skip
    assert await card.shop.cards.webhook(json.dumps(forged).encode()) is True
    forged["data"]["paymentKey"] = "tstan_made_up_key"
    assert await card.shop.cards.webhook(json.dumps(forged).encode()) is True
    assert await card.shop.cards.webhook(b"{not json") is False
    assert await card.balance(uid) == 0 and await card.ledger() == []
    assert (await card.shop.cards.checkout(c.order_id)).status is CheckoutStatus.READY


async def test_expired_checkout_is_refused_and_closed_by_the_reconciler(card):
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 6000)
    q = (await pay(card.toss.url, c.order_id, 6000)).query
    card.clock.advance(minutes=15)
    assert (await card.shop.cards.page(c.token)).state is PageState.EXPIRED
    late = await card.shop.cards.settle(c.order_id, q["paymentKey"], "6000", c.token)
    assert late.outcome is Settle.EXPIRED and card.sim.confirms == []
    assert (await card.shop.cards.reconcile()).released == 1
    assert (await card.shop.cards.checkout(c.order_id)).status is CheckoutStatus.EXPIRED
    assert await card.balance(uid) == 0


async def test_crash_before_confirm_is_finished_by_the_reconciler(card):
    """The claim (confirming + paymentKey) was committed, then the process died before it
    asked Toss: the reconciler confirms with the same Idempotency-Key."""
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 7000)
    q = (await pay(card.toss.url, c.order_id, 7000)).query
    async with card.db.transaction() as conn:
        await conn.execute(
            "UPDATE checkouts SET status = 'confirming', payment_key = ?, confirming_at = ? "
            "WHERE id = ?", (q["paymentKey"], card.clock.now().isoformat(), c.id))  # fmt: skip
    report = await card.shop.cards.reconcile()
    assert report.credited == 1 and await card.balance(uid) == 7000
    assert [x.idempotency_key for x in card.sim.confirms] == [
        confirm_idempotency_key(c.order_id, q["paymentKey"])]  # fmt: skip


async def test_migration_keeps_an_existing_database_and_allows_card(tmp_path: Path):
    path = tmp_path / "old.sqlite3"
    v1 = resources.files("storage.migrations").joinpath("0001_init.sql").read_text("utf-8")
    conn = sqlite3.connect(path)
    conn.executescript(v1 + "\nPRAGMA user_version = 1;")
    conn.executescript("""
        INSERT INTO users (id, telegram_id, first_name, created_at) VALUES (1, 7, 'a', 'x');
        INSERT INTO topups (id, user_id, method, amount, depositor, status, created_at)
            VALUES (5, 1, 'bank', 20000, '홍길동', 'approved', 'x');
        INSERT INTO ledger (user_id, amount, kind, idem_key, topup_id, balance_after, created_at)
            VALUES (1, 20000, 'topup', 'topup:5:credit', 5, 20000, 'x');
    """)
    conn.commit()
    conn.close()
    async with Database(path) as db:
        assert (await db.fetch_one("PRAGMA user_version"))[0] == db.schema_version
        row = await db.fetch_one("SELECT * FROM topups WHERE id = 5")
        assert (row["method"], row["amount"], row["depositor"]) == ("bank", 20000, "홍길동")
        async with db.transaction() as w:
            await w.execute("INSERT INTO topups (user_id, method, amount, status, created_at) "
                            "VALUES (1, 'card', 1000, 'paid', 'y')")  # fmt: skip
        assert (await db.fetch_one("SELECT max(id) FROM topups"))[0] == 6
        assert await db.fetch_all("PRAGMA foreign_key_check") == []


async def test_concurrent_returns_for_one_order_confirm_once(card):
    """Three tabs return at once: one confirm reaches Toss, the others wait and see it done."""
    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 4000)
    q = (await pay(card.toss.url, c.order_id, 4000)).query
    results = await asyncio.gather(
        *(card.shop.cards.settle(c.order_id, q["paymentKey"], "4000", c.token) for _ in range(3))
    )
    assert sorted(r.outcome.value for r in results) == ["already", "already", "credited"]
    assert len(card.sim.confirms) == 1 and await card.balance(uid) == 4000
    assert card.shop.cards._locks == {}


async def test_a_payment_shown_as_being_checked_that_ends_declined_is_told_in_the_chat(card):
    """The page said "we are checking it and will tell you in the chat": when the
    reconciler's answer is a decline, the customer hears it (once); a decline shown on
    the page itself is not repeated in the chat."""
    from chat.news import render

    uid = await card.customer()
    c = await card.shop.cards.create_checkout(uid, 11_000)
    q = (await pay(card.toss.url, c.order_id, 11_000)).query
    card.sim.fail_next_confirm("500")  # nothing approved, but we cannot know that
    card.sim.lookup_faults = 1
    pending = await card.shop.cards.settle(c.order_id, q["paymentKey"], "11000", c.token)
    assert pending.outcome is Settle.PENDING
    card.sim.fail_next_confirm("decline")  # the reconciler's confirm gets the real answer
    assert (await card.shop.cards.reconcile()).released == 1
    assert await card.balance(uid) == 0
    assert (await card.shop.cards.page(c.token)).state is PageState.PAYABLE
    news = await card.db.fetch_all("SELECT event, payload FROM outbox WHERE user_id = ?", (uid,))
    assert [n["event"] for n in news] == ["card_declined"]
    screen = render("card_declined", json.loads(news[0]["payload"]))
    assert "11,000원" in screen.text and "승인되지 않아" in screen.text
    assert (await card.shop.cards.reconcile()).looked == 0  # settled: no second notice
    # declined in front of the customer (the page shows it): no chat news
    q2 = (await pay(card.toss.url, c.order_id, 11_000)).query
    card.sim.fail_next_confirm("decline")
    shown = await card.shop.cards.settle(c.order_id, q2["paymentKey"], "11000", c.token)
    assert shown.outcome is Settle.DECLINED
    assert len(await card.db.fetch_all("SELECT 1 FROM outbox WHERE user_id = ?", (uid,))) == 1
