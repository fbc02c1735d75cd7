"""place(submit_within=…): a front with a hard deadline answers before a slow panel does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.clock import ManualClock
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.settings import ShopSettings
from shop.shop import Shop
from storage import outbox
from storage.db import Database

ADMIN = 9000


@pytest.fixture
async def shop(tmp_path, panel):
    _sim, client = panel
    async with Database(tmp_path / "shop.sqlite3") as db:
        settings = ShopSettings(admin_ids=(ADMIN,), exchange_rate=Decimal(1400))
        s = Shop(ShopContext(db=db, panel=client, settings=settings, clock=ManualClock()))
        await s.catalog.sync()
        yield s


async def quote(shop: Shop, link: str) -> tuple[int, str]:
    user = await shop.users.ensure(1, "u", "고객", "ko")
    topup = await shop.topups.request_bank(user.id, 100_000, "입금자")
    await shop.topups.approve(topup.id, ADMIN)
    svc = next(s for s in await shop.catalog.all() if s.panel_id == "101")
    q = await shop.orders.quote(user.id, svc.id, OrderInput(link=link, quantity=100))
    return user.id, q.token


async def test_slow_panel_is_answered_after_the_reply_and_told_as_news(shop: Shop, panel):
    sim, _ = panel
    sim.set_quirk("slow_add", value=30.0)
    uid, token = await quote(shop, "https://instagram.com/slow")
    result = await shop.orders.place(uid, token, submit_within=0.05)
    assert result.outcome == PlaceOutcome.ACCEPTED
    assert result.order.status in ("created", "submitting")
    assert (await shop.users.get(uid)).balance == 100_000 - result.order.price
    again = await shop.orders.place(uid, token, submit_within=0.05)  # 확인 tapped again
    assert again.outcome == PlaceOutcome.REPLAYED and again.order.id == result.order.id
    sim.release_slow()
    await shop.orders.wait_background(5)
    order = await shop.orders.get_for_user(uid, result.order.id)
    assert order.status == "pending" and sim.orders_created() == 1
    rows = await shop.ctx.db.fetch_all(
        "SELECT event FROM outbox WHERE user_id = ? AND event LIKE 'order%'", (uid,)
    )
    assert [r["event"] for r in rows] == ["order_placed"]
    assert await outbox.counts(shop.ctx.db.reader, f"order:{order.id}:") == {"pending": 1}


async def test_a_quick_panel_answers_in_the_turn_without_news(shop: Shop):
    uid, token = await quote(shop, "https://instagram.com/quick")
    result = await shop.orders.place(uid, token, submit_within=3.0)
    assert result.outcome == PlaceOutcome.PLACED
    rows = await shop.ctx.db.fetch_all(
        "SELECT event FROM outbox WHERE user_id = ? AND event LIKE 'order%'", (uid,)
    )
    assert rows == []
