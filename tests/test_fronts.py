"""Customers per front: a KakaoTalk customer is a separate shop customer, and news for a
customer is queued for that customer's front only (schema v2)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from shop import notices
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.jobs import ShopJobs
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

NOW = "2026-11-30T00:00:00.000000Z"


@pytest.fixture
async def shop(tmp_path):
    async with Database(tmp_path / "f.sqlite3") as db:
        settings = ShopSettings(exchange_rate=Decimal(1), admin_ids=(9001,))
        ctx = ShopContext(db=db, panel=None, settings=settings,
                          clock=ManualClock())  # type: ignore[arg-type]  # fmt: skip
        yield Shop(ctx)


async def test_kakao_customer_is_separate_and_found_again(shop: Shop):
    tg = await shop.users.ensure_front("telegram", "777", "텔레", "ko")
    kk = await shop.users.ensure_front("kakao", "777", "카카오", "ko")
    assert (tg.front, tg.telegram_id, tg.external_id) == ("telegram", 777, "777")
    assert (kk.front, kk.telegram_id, kk.external_id) == ("kakao", None, "777")
    assert kk.id != tg.id
    again = await shop.users.ensure_front("kakao", "777", "카카오", "ko")
    assert again.id == kk.id
    assert (await shop.users.by_front("kakao", "777")).id == kk.id
    with pytest.raises(ValueError, match="unknown front"):
        await shop.users.ensure_front("line", "1", "x", "ko")


async def test_news_goes_to_the_customers_front_only(shop: Shop):
    tg = await shop.users.ensure_front("telegram", "501", "텔레", "ko")
    kk = await shop.users.ensure_front("kakao", "u-502", "카카오", "en")
    now = shop.ctx.now_iso()
    async with shop.ctx.db.transaction() as conn:
        for user, key in ((tg, "a"), (kk, "b")):
            row = await conn.execute_fetchall("SELECT * FROM users WHERE id = ?", (user.id,))
            await notices.to_user(conn, user_row=row[0], key=key, event="order_completed",
                                  payload={"order_id": 1}, now=now)  # fmt: skip
        await notices.to_admins(conn, shop.settings, key="c", event="admin_late",
                                payload={"order_id": 1}, now=now)  # fmt: skip
    jobs = ShopJobs(shop.ctx)
    telegram = await jobs.due_notices(10)
    assert sorted(r.chat_id for r in telegram) == [501, 9001]  # the customer and the admin
    kakao = await jobs.due_notices(10, front="kakao")
    assert [(r.user_id, r.chat_id, r.payload["lang"]) for r in kakao] == [(kk.id, None, "en")]
    assert [r.id for r in await jobs.pending_notices_for(kk.id)] == [kakao[0].id]


async def test_schema_v1_database_upgrades_with_its_rows(tmp_path):
    """An existing v1 shop keeps its customers and queued news through the upgrade."""
    path = tmp_path / "old.sqlite3"
    from storage import db as dbmod

    v1 = [(v, sql) for v, sql in dbmod._migrations() if v == 1]
    con = sqlite3.connect(path)
    con.executescript(v1[0][1] + "\nPRAGMA user_version = 1;")
    con.execute("INSERT INTO users (telegram_id, first_name, created_at) VALUES (42, 'a', ?)",
                (NOW,))  # fmt: skip
    con.execute(
        "INSERT INTO outbox (dedupe_key, chat_id, user_id, event, payload, next_attempt_at,"
        " created_at) VALUES ('k', 42, 1, 'broadcast', '{}', ?, ?)", (NOW, NOW),
    )  # fmt: skip
    con.commit()
    con.close()
    async with Database(path) as db:
        user = await db.fetch_one("SELECT front, external_id FROM users WHERE telegram_id = 42")
        assert tuple(user) == ("telegram", "42")
        row = await db.fetch_one("SELECT front, chat_id, status FROM outbox WHERE dedupe_key='k'")
        assert tuple(row) == ("telegram", 42, "pending")
        with pytest.raises(sqlite3.IntegrityError):  # a Telegram row needs its chat
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO outbox (dedupe_key, front, event, payload, next_attempt_at,"
                    " created_at) VALUES ('x', 'telegram', 'e', '{}', ?, ?)", (NOW, NOW),
                )  # fmt: skip
