"""Outbox sender against the Bot API emulator over real HTTP: retries, blocks, rendering."""

from __future__ import annotations

import pytest

from bot.jobs import run_outbox, sender_of
from chat.i18n import LANGS, catalog
from handlers.notify_render import render

A, B = 6001, 6002


async def outbox_rows(env) -> list:
    return await env.shop.ctx.db.fetch_all("SELECT * FROM outbox ORDER BY id")


async def test_retry_after_delays_but_loses_nothing(env):
    user = env.user(A)
    env.emu.fail_next("sendMessage", kind="429", retry_after=1)
    await env.credit(A, 20_000)
    await run_outbox(env.runtime)
    await user.wait_for("20,000원 충전이 완료")
    assert env.emu.stats["429"] >= 1
    rows = [r for r in await outbox_rows(env) if r["chat_id"] == A]
    assert [r["status"] for r in rows] == ["sent"]


async def test_blocked_customer_is_skipped_and_marked_others_still_sent(env):
    blocked, other = env.user(A), env.user(B)
    env.emu.block(A, notify=False)
    await env.credit(A, 10_000)
    await env.credit(B, 10_000)
    await run_outbox(env.runtime)
    await other.wait_for("10,000원 충전이 완료")
    assert not blocked.bot_messages()
    by_chat = {r["chat_id"]: r for r in await outbox_rows(env) if r["chat_id"] in (A, B)}
    assert by_chat[A]["status"] == "skipped" and by_chat[B]["status"] == "sent"
    assert (await env.shop.users.by_telegram(A)) is not None
    row = await env.shop.ctx.db.fetch_one(
        "SELECT blocked_at FROM users WHERE telegram_id = ?", (A,)
    )
    assert row["blocked_at"] is not None


async def test_network_error_is_retried_later_with_backoff(env):
    user = env.user(A)
    env.emu.fail_next("sendMessage", times=3, kind="5xx", status=502)  # user + 2 admin cards
    await env.credit(A, 10_000)
    await run_outbox(env.runtime)
    (row,) = [r for r in await outbox_rows(env) if r["chat_id"] == A]
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"]
    assert not user.bot_messages()
    env.clock.advance(seconds=10)
    await run_outbox(env.runtime)
    await user.wait_for("충전이 완료")
    assert len(user.bot_messages()) == 1


async def test_bad_request_marks_failed_not_retried_forever(env):
    await env.credit(A, 10_000)  # no such chat in the emulator: 400 chat not found
    assert await run_outbox(env.runtime) == 0
    statuses = {r["chat_id"]: r["status"] for r in await outbox_rows(env)}
    assert statuses[A] == "failed"
    env.clock.advance(hours=1)
    assert await run_outbox(env.runtime) == 0
    assert sender_of(env.runtime).stats["failed"] >= 1


PAYLOAD = {
    "order_id": 1234, "delivered": 60, "quantity": 100, "refund": 8232, "balance": 51_234,
    "used": 1200, "returned": 800, "hours": 48, "topup_id": 77, "amount": 30_000,
    "reason": "<입금 확인 안 됨>", "user_id": 5, "price": 2058, "link": "https://x.y/<b>",
    "panel_order_id": "991", "word": "Stuck", "depositor": "홍길동", "telegram_id": 5001,
    "username": None, "first_name": "고객", "threshold": "5", "currency": "USD",
    "who": "kakao #5", "status": "approved",
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGS)
def test_every_notify_event_renders_escaped_with_ids_unformatted(lang):
    events = [k.removeprefix("notify.") for k in catalog(lang) if k.startswith("notify.")]
    events = [e for e in events if not e.endswith("_button") and e != "broadcast"]
    assert "order_partial" in events and "admin_panel_balance" in events
    for event in events:
        text, _markup = render(event, {"lang": lang, **PAYLOAD})
        assert "<b>" not in text and "<입금" not in text
    # A broadcast carries the admin's text, escaped once when it was confirmed.
    notice, _ = render("broadcast", {"lang": lang, "text": "&lt;b&gt;점검&lt;/b&gt; &amp;"})
    assert notice.endswith("&lt;b&gt;점검&lt;/b&gt; &amp;")
    partial, _ = render("order_partial", {"lang": lang, **PAYLOAD})
    assert "#1234" in partial and "8,232" in partial and "51,234" in partial
    old = {k: v for k, v in PAYLOAD.items() if k != "who"}  # queued before fronts existed
    assert "telegram 5001" in render("admin_topup", {"lang": lang, **old})[0]
    _, markup = render("admin_topup", {"lang": lang, **PAYLOAD})
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert data == ["a:tp:ok:77", "a:tp:no:77"]
