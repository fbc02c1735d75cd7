"""Telegram faults through the Bot API emulator: nothing lost, nothing doubled."""

from __future__ import annotations

import logging
import re

from bot.notifier import OutboxSender
from sandbox.telegram import BotApiEmulator
from shop.jobs import ShopJobs
from tests.botenv import TOKEN, ShopEnv, order_to_card, running_shop

PRICE_100 = 2058  # 100 KR followers: ceil(20,580 × 100 / 1000)


async def ledger_ok(env: ShopEnv) -> None:
    assert all(not rows for rows in (await env.shop.check_ledger()).values())


def sender(env: ShopEnv) -> OutboxSender:
    async def no_sleep(_s: float) -> None:
        return None

    return OutboxSender(ShopJobs(env.shop.ctx), env.app.bot, chat_interval=0, sleep=no_sleep)


async def test_429_on_the_order_reply_is_retried_and_arrives_once(env: ShopEnv):
    await env.credit(1, 10_000)
    u = env.user(1)
    await order_to_card(u, "https://instagram.com/flood")
    env.emu.fail_next("sendMessage", 1, "429", retry_after=1)
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요", timeout=10)
    assert env.emu.stats["429"] == 1  # the fault really hit the reply
    assert len([m for m in u.bot_messages() if "접수되었어요" in m.text]) == 1
    assert await env.balance(1) == 10_000 - PRICE_100
    assert env.sim.orders_created() == 1
    await ledger_ok(env)


async def test_get_updates_5xx_and_drops_lose_no_update(env: ShopEnv):
    u = env.user(2)
    await u.send_command("/start")
    await u.wait_for("현재 잔액")
    env.emu.fail_next("getUpdates", 2, "5xx")
    env.emu.fail_next("getUpdates", 1, "drop")
    env.emu.fail_next("getUpdates", 1, "drop_after")  # fetched, but the answer is lost
    for text in ("/balance", "/help", "/start"):
        await u.send_command(text)
    await u.wait_for("현재 잔액", timeout=20)
    await env.emu.wait_updates_fetched(timeout=20)
    # Every update was handled exactly once: three answers after the faults, no repeats.
    assert env.emu.stats["5xx"] >= 2 and env.emu.stats["dropped"] >= 1
    starts = [m for m in u.bot_messages() if "현재 잔액" in m.text]
    assert len(starts) == 2, [m.text[:40] for m in u.bot_messages()]


async def test_confirm_delivered_twice_orders_and_debits_once(env: ShopEnv):
    await env.credit(3, 10_000)
    u = env.user(3)
    await order_to_card(u, "https://instagram.com/twice")
    env.emu.deliver_twice(1)
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    await env.emu.wait_updates_fetched()
    assert env.emu.stats["duplicated_updates"] == 1
    assert env.sim.orders_created() == 1 and len(env.sim.adds()) == 1
    assert await env.balance(3) == 10_000 - PRICE_100
    user = await env.shop.users.by_telegram(3)
    assert user is not None
    _orders, count = await env.shop.orders.history(user.id, 0)
    assert count == 1
    await ledger_ok(env)


async def test_stars_payment_delivered_twice_credits_once(env: ShopEnv):
    u = env.user(4)
    await u.send_text("💳 잔액충전")
    await u.wait_for(r"충전 방법")
    await u.press("⭐ 텔레그램 Stars 결제")
    await u.wait_for(r"1 Star = 20원")
    await u.send_text("10000")
    await env.emu.wait_event(
        lambda e: e.kind == "message" and e.chat_id == u.id and "Stars" in e.text, since=0
    )
    invoice = next(m for m in reversed(u.transcript()) if m.kind == "invoice")
    env.emu.deliver_twice(2)  # pre-checkout and successful_payment both arrive twice
    await u.pay(invoice)
    await u.wait_for("충전되었어요")
    await env.emu.wait_updates_fetched()
    assert env.emu.stats["duplicated_updates"] == 2
    assert await env.balance(4) == 10_000
    rows = await env.shop.ctx.db.fetch_all("SELECT * FROM ledger WHERE kind != 'order'")
    assert len([r for r in rows if r["amount"] == 10_000]) == 1
    await ledger_ok(env)


async def test_blocked_customer_is_skipped_and_others_still_served(env: ShopEnv):
    await env.credit(5, 10_000)
    await env.credit(6, 10_000)
    a, b = env.user(5), env.user(6)
    placed = {}
    for u in (a, b):
        await order_to_card(u, f"https://instagram.com/blk{u.id}")
        await u.press("✅ 확인")
        msg = await u.wait_for("접수되었어요")
        placed[u.id] = re.search(r"#(\d+)", msg.text).group(1)
    await sender(env).drain()  # anything already due
    env.emu.block(a.id)
    a_seen, b_mark = len(a.bot_messages()), b.mark()
    for adds in env.sim.adds():
        env.sim.set_order(adds.order, status="Partial", remains=50)
    env.clock.advance(hours=1)
    await env.shop.fulfilment.poll_once()
    s = sender(env)
    await s.drain()
    assert s.stats["skipped"] >= 1
    await b.wait_for(f"#{placed[b.id]}", after=b_mark)  # B still gets the partial notice
    assert len(a.bot_messages()) == a_seen
    # The refund happened for both, whether or not the message could be delivered.
    assert await env.balance(5) == await env.balance(6) == 10_000 - PRICE_100 + PRICE_100 // 2
    await b.send_command("/start")
    await b.wait_for("현재 잔액")
    assert (await s.drain()) == 0  # the skipped row is not retried forever
    await ledger_ok(env)


async def test_dropped_notification_send_is_retried_not_lost(env: ShopEnv):
    await env.credit(7, 10_000)
    u = env.user(7)
    await order_to_card(u, "https://instagram.com/drop")
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    await sender(env).drain()
    (add,) = env.sim.adds()
    env.sim.set_order(add.order, status="Completed")
    env.clock.advance(hours=1)
    await env.shop.fulfilment.poll_once()
    env.emu.fail_next("sendMessage", 1, "drop")
    s = sender(env)
    assert await s.drain() == 0 and s.stats["retried"] == 1
    env.clock.advance(hours=1)
    assert await s.drain() == 1
    done = [m for m in u.bot_messages() if "작업이 완료됐어요" in m.text]
    assert len(done) == 1, [m.text for m in u.bot_messages()]


async def test_reply_lost_after_send_never_orders_twice(env: ShopEnv):
    """The 'received' reply reaches the customer but its HTTP answer is lost: the handler
    sees an error, yet the order and the debit exist exactly once."""
    await env.credit(8, 10_000)
    u = env.user(8)
    await order_to_card(u, "https://instagram.com/lost")
    env.emu.fail_next("sendMessage", 1, "drop_after")
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    await u.send_command("/balance")  # handled after the confirm (one customer, in order)
    await u.wait_for(r"잔액")
    assert env.sim.orders_created() == 1
    assert await env.balance(8) == 10_000 - PRICE_100
    await ledger_ok(env)


async def test_a_failing_command_menu_does_not_stop_the_bot(tmp_path, caplog):
    """setMyCommands is cosmetic: a 5xx there is a warning, and the shop serves."""
    emu = BotApiEmulator(TOKEN)
    emu.fail_next("setMyCommands", 1, "5xx", status=502)
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        async with running_shop(tmp_path, emu=emu) as env:
            u = env.user(7)
            await u.send_command("/start")
            await u.wait_for("현재 잔액")
    assert "command menu not registered, serving without it" in caplog.text
    assert "answered HTTP 502 (Bad Gateway)" in caplog.text
