"""SQLite faults: a locked database, a read-only one and a full one.

Each gives either success or one clear ``StorageError`` with nothing half-written: no
order without its debit, no debit without its order, balance = ledger.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

import pytest

import storage.db
from shop import statuses as st
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database, StorageError
from tests.botenv import running_shop

ADMIN = 9000
START = 1_000_000
BUSY_MS = 300


@pytest.fixture
async def shop(tmp_path, panel, monkeypatch):
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", BUSY_MS)
    _sim, client = panel
    async with Database(tmp_path / "shop.sqlite3") as db:
        settings = ShopSettings(admin_ids=(ADMIN,), exchange_rate=Decimal(1400),
                                markup_percent=Decimal(50))  # fmt: skip
        s = Shop(ShopContext(db=db, panel=client, settings=settings, clock=ManualClock()))
        await s.catalog.sync()
        yield s


async def customer(shop: Shop, tg: int = 1) -> int:
    user = await shop.users.ensure(tg, f"user{tg}", "고객", "ko")
    topup = await shop.topups.request_bank(user.id, START, f"입금자{tg}")
    await shop.topups.approve(topup.id, ADMIN)
    return user.id


async def quote(shop: Shop, uid: int, link: str) -> str:
    svc = next(s for s in await shop.catalog.all() if s.panel_id == "201")
    q = await shop.orders.quote(uid, svc.id, OrderInput(link=link, quantity=100))
    return q.token


async def assert_consistent(shop: Shop, uid: int) -> None:
    """No half-written money state: invariants hold and balance = start − orders' use."""
    assert all(not rows for rows in (await shop.check_ledger()).values())
    orders, _ = await shop.orders.history(uid, 0, 1000)
    user = await shop.users.get(uid)
    assert user.balance == START - sum(o.amount_used for o in orders)
    debits = await shop.ctx.db.fetch_all("SELECT * FROM ledger WHERE kind = 'order'")
    assert {r["order_id"] for r in debits} == {o.id for o in orders}


def hold_write_lock(path: str) -> sqlite3.Connection:
    """Another process's writer: holds the RESERVED lock until committed."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_short_lock_is_waited_out(shop: Shop):
    uid = await customer(shop)
    token = await quote(shop, uid, "https://instagram.com/p/wait")
    other = hold_write_lock(shop.ctx.db.path)
    asyncio.get_running_loop().call_later(BUSY_MS / 3000, other.commit)
    result = await shop.orders.place(uid, token)
    assert result.outcome == PlaceOutcome.PLACED
    other.close()
    await assert_consistent(shop, uid)


async def test_lock_past_busy_timeout_fails_cleanly_and_retry_works(shop: Shop, panel):
    sim, _ = panel
    uid = await customer(shop)
    token = await quote(shop, uid, "https://instagram.com/p/locked")
    other = hold_write_lock(shop.ctx.db.path)
    try:
        with pytest.raises(StorageError, match="locked"):
            await shop.orders.place(uid, token)
        # Nothing was written, nothing sent upstream.
        assert (await shop.orders.history(uid, 0))[1] == 0
        assert sim.adds() == []
    finally:
        other.commit()
        other.close()
    await assert_consistent(shop, uid)
    result = await shop.orders.place(uid, token)  # the customer's retry
    assert result.outcome == PlaceOutcome.PLACED and len(sim.adds()) == 1
    await assert_consistent(shop, uid)


async def test_read_only_database_gives_storage_error_and_no_money_change(shop: Shop):
    uid = await customer(shop)
    token = await quote(shop, uid, "https://instagram.com/p/ro")
    await shop.ctx.db._writer.execute("PRAGMA query_only = ON")  # as if the file were ro
    with pytest.raises(StorageError, match="readonly"):
        await shop.orders.place(uid, token)
    await shop.ctx.db._writer.execute("PRAGMA query_only = OFF")
    assert (await shop.users.get(uid)).balance == START
    await assert_consistent(shop, uid)


async def test_full_disk_never_leaves_half_written_money(shop: Shop, panel, caplog):
    sim, _ = panel
    uid = await customer(shop)
    tokens = [await quote(shop, uid, f"https://instagram.com/p/full{i}") for i in range(60)]
    db = shop.ctx.db
    writer = db._writer
    pages = (await (await writer.execute("PRAGMA page_count")).fetchone())[0]
    await writer.execute(f"PRAGMA max_page_count = {pages + 1}")  # "the disk is full"
    failures = 0
    for token in tokens:
        try:
            await shop.orders.place(uid, token)
        except StorageError as exc:
            assert "full" in str(exc)
            failures += 1
        await assert_consistent(shop, uid)
    assert failures > 0
    orders, _ = await shop.orders.history(uid, 0, 1000)
    # Debit and order are written together or not at all. An order whose panel answer
    # could not be recorded stays `submitting` with its debit; its panel id is logged.
    assert all(o.status in (st.PENDING, st.CREATED, st.SUBMITTING) for o in orders)
    stuck = [o for o in orders if o.status == st.SUBMITTING]
    for o in stuck:
        assert f"order {o.id}: panel order" in caplog.text
    await writer.execute("PRAGMA max_page_count = 1073741823")
    await shop.orders.recover()  # never resends: `submitting` goes to the admins' review
    orders, _ = await shop.orders.history(uid, 0, 1000)
    assert {o.status for o in orders} <= {st.PENDING, st.NEEDS_REVIEW}
    assert len([o for o in orders if o.status == st.NEEDS_REVIEW]) == len(stuck)
    assert len(sim.adds()) == len(orders) == len({a.link for a in sim.adds()})
    await assert_consistent(shop, uid)


async def test_customer_is_told_to_retry_when_the_database_is_locked(tmp_path, monkeypatch):
    from tests.test_order_flow import KR_FOLLOWERS, pick_service

    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", BUSY_MS)
    async with running_shop(tmp_path) as env:
        await env.credit(1, 50_000)
        u = env.user(1)
        await pick_service(u, *KR_FOLLOWERS)
        await u.wait_for("링크")
        await u.send_text("https://instagram.com/locked")
        await u.wait_for("수량")
        other = hold_write_lock(env.shop.ctx.db.path)
        try:
            await u.send_text("100")  # the confirmation card is a write: it must wait
            await u.wait_for("잠시 후 다시 시도해 주세요")
        finally:
            other.commit()
            other.close()
        await u.send_text("100")  # the same step again, now that the lock is gone
        card = await u.wait_for("주문 확인")
        assert "2,058원" in card.text
        assert await env.balance(1) == 50_000
        assert all(not rows for rows in (await env.shop.check_ledger()).values())
