"""Customers are registered on first contact; later contacts write only on a change."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.clock import ManualClock
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database


@pytest.fixture
async def shop(tmp_path):
    async with Database(tmp_path / "u.sqlite3") as db:
        ctx = ShopContext(db=db, panel=None, settings=ShopSettings(exchange_rate=Decimal(1)),
                          clock=ManualClock())  # type: ignore[arg-type]  # fmt: skip
        yield Shop(ctx)


async def _seen(shop: Shop, tg: int) -> str:
    row = await shop.ctx.db.fetch_one("SELECT last_seen_at FROM users WHERE telegram_id = ?", (tg,))
    return row[0]


async def test_ensure_writes_only_on_change(shop: Shop):
    first = await shop.users.ensure(7, "kim", "김", "ko")
    seen = await _seen(shop, 7)
    shop.ctx.clock.advance(minutes=10)
    again = await shop.users.ensure(7, "kim", "김", "ko")
    assert again.id == first.id and await _seen(shop, 7) == seen  # nothing written
    renamed = await shop.users.ensure(7, "kim2", "김", "en-US")
    assert (renamed.username, renamed.language) == ("kim2", "en")
    assert await _seen(shop, 7) > seen
    shop.ctx.clock.advance(hours=2)
    await shop.users.ensure(7, "kim2", "김", "en-US")
    assert await _seen(shop, 7) > seen  # refreshed hourly


async def test_a_blocked_customer_who_writes_again_is_unblocked(shop: Shop):
    user = await shop.users.ensure(8, None, "이", "ko")
    async with shop.ctx.db.transaction() as conn:
        await conn.execute("UPDATE users SET blocked_at = ? WHERE id = ?", ("x", user.id))
    assert (await shop.users.get(user.id)).blocked
    assert not (await shop.users.ensure(8, None, "이", "ko")).blocked
