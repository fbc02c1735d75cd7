"""Scheduler jobs against the panel simulator and the Bot API emulator over real HTTP."""

from __future__ import annotations

import pytest

from bot.jobs import run_outbox, run_panel_balance, run_poll, run_topup_expiry
from shop.models import OrderInput, PlaceOutcome
from tests.botenv import ADMIN_IDS, ShopEnv, running_shop

TG = 5001
PRICE = 2058  # service 101, 100 units: 20,580 원 per 1000


async def place(env: ShopEnv, tg: int, link: str, qty: int = 100) -> tuple[int, str]:
    """A placed order (order id, panel id) for customer ``tg``."""
    user = await env.shop.users.by_telegram(tg)
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    q = await env.shop.orders.quote(user.id, svc.id, OrderInput(link=link, quantity=qty))
    result = await env.shop.orders.place(user.id, q.token)
    assert result.outcome == PlaceOutcome.PLACED
    return result.order.id, result.order.panel_order_id


async def refunds(env: ShopEnv, order_id: int) -> int:
    rows = await env.shop.ctx.db.fetch_all(
        "SELECT amount FROM ledger WHERE order_id = ? AND kind = 'refund'", (order_id,)
    )
    return len(rows)


def texts(env: ShopEnv, tg: int, needle: str) -> list[str]:
    return [m.text for m in env.emu.user(tg).bot_messages() if needle in m.text]


@pytest.mark.parametrize(
    ("word", "remains", "refund", "needle"),
    [("Completed", 0, 0, "완료"), ("Partial", 40, 1, "일부"), ("Canceled", 100, 1, "취소")],
)
async def test_terminal_status_once_when_polled_ten_times(env, word, remains, refund, needle):
    user = env.user(TG)
    await env.credit(TG, 10_000)
    oid, pid = await place(env, TG, "https://instagram.com/once")
    env.sim.set_order(pid, status=word, remains=remains)
    for _ in range(10):
        await run_poll(env.runtime)
        await run_outbox(env.runtime)
    await user.wait_for(f"#{oid}.*{needle}|{needle}.*#{oid}")
    assert len(texts(env, TG, f"#{oid}")) == 1
    assert await refunds(env, oid) == refund
    expected = {"Completed": 10_000 - PRICE, "Partial": 10_000 - PRICE + 823,
                "Canceled": 10_000}[word]  # fmt: skip
    assert await env.balance(TG) == expected
    assert all(not v for v in (await env.shop.check_ledger()).values())


async def test_restart_between_poll_and_send_sends_exactly_once(tmp_path):
    async with running_shop(tmp_path) as env:
        sim, emu, clock = env.sim, env.emu, env.clock
        env.user(TG)
        await env.credit(TG, 10_000)
        await run_outbox(env.runtime)  # the top-up message, out of the way
        oid, pid = await place(env, TG, "https://instagram.com/restart")
        sim.set_order(pid, status="Partial", remains=50)
        await env.shop.fulfilment.poll_once()  # queued, not sent: the bot stops here
    assert not texts(env, TG, f"#{oid}")
    async with running_shop(tmp_path, sim=sim, emu=emu, clock=clock) as env2:
        for _ in range(3):
            await env2.shop.fulfilment.poll_once()
            await run_outbox(env2.runtime)
        assert len(texts(env2, TG, f"#{oid}")) == 1
        assert await refunds(env2, oid) == 1
        assert await env2.balance(TG) == 10_000 - PRICE + 1029


async def test_250_orders_polled_in_3_status_calls(env):
    env.sim.set_balance(100_000)
    env.user(TG)
    await env.credit(TG, 2_000_000)
    ids = [await place(env, TG, f"https://instagram.com/p{i}") for i in range(250)]
    before = env.sim.calls["status"]
    report = await env.shop.fulfilment.poll_once()
    assert env.sim.calls["status"] - before == 3
    assert report.polled == 250 and report.errors == 0
    assert len(ids) == 250


async def test_unknown_words_and_html_503_keep_orders_polled(env):
    user, admin = env.user(TG), env.admin(0)
    await env.credit(TG, 10_000)
    oid, pid = await place(env, TG, "https://instagram.com/quirky")
    env.sim.set_order(pid, status="Completed")
    env.sim.set_quirk("html_503", times=10)
    await run_poll(env.runtime)  # outage: logged, backed off, no crash
    row = await env.shop.ctx.db.fetch_one("SELECT * FROM orders WHERE id = ?", (oid,))
    assert row["status"] != "completed" and row["poll_failures"] == 1
    env.sim.clear_quirks()
    env.sim.set_quirk("unknown_status_word", times=1)
    env.clock.advance(hours=1)
    await run_poll(env.runtime)
    row = await env.shop.ctx.db.fetch_one("SELECT * FROM orders WHERE id = ?", (oid,))
    assert row["status"] != "completed" and row["next_poll_at"] is not None
    env.clock.advance(hours=1)
    await run_poll(env.runtime)
    await run_outbox(env.runtime)
    await user.wait_for(f"#{oid}.*완료")
    await admin.wait_for("알 수 없는 상태")


async def test_not_started_48h_tells_customer_once_and_each_admin_once(env):
    user = env.user(TG)
    admins = [env.admin(0), env.admin(1)]
    await env.credit(TG, 10_000)
    await run_outbox(env.runtime)
    oid, _pid = await place(env, TG, "https://instagram.com/late")
    env.clock.advance(hours=49)
    for _ in range(3):
        await env.shop.fulfilment.alert_not_started()
        await run_outbox(env.runtime)
    msg = await user.wait_for(f"#{oid}.*48시간")
    assert msg.button_labels() == ["취소 요청"]
    assert msg.buttons()[0]["callback_data"] == f"h:c:{oid}"
    assert len(texts(env, TG, "48시간")) == 1
    for admin in admins:
        assert len([m for m in admin.bot_messages() if "[지연]" in m.text]) == 1


async def test_topup_expiry_tells_customer_once(env):
    user, admins = env.user(TG), [env.admin(0), env.admin(1)]
    u = await env.shop.users.ensure(TG, None, "고객", "ko")
    await env.shop.topups.request_bank(u.id, 30_000, "홍길동")
    env.clock.advance(hours=49)
    for _ in range(3):
        await run_topup_expiry(env.runtime)
        await run_outbox(env.runtime)
    await user.wait_for("30,000원 충전 요청이 48시간")
    assert len(texts(env, TG, "만료")) == 1
    # each admin got the request card once, with approve/reject buttons
    for admin in admins:
        cards = [m for m in admin.bot_messages() if "충전 요청 #" in m.text]
        assert len(cards) == 1 and cards[0].button_labels() == ["승인", "거절"]


async def test_low_panel_balance_alerts_admins_once_per_episode(env):
    env.admin(0), env.admin(1)
    env.sim.set_balance("1.5")
    for _ in range(3):  # three hourly checks, one episode
        await run_panel_balance(env.runtime)
        await run_outbox(env.runtime)
    for aid in ADMIN_IDS:
        assert len(texts(env, aid, "패널 잔액이")) == 1
    env.sim.set_balance("50")
    await run_panel_balance(env.runtime)  # recovered: the episode ends
    env.sim.set_balance("2")
    env.clock.advance(hours=1)
    await run_panel_balance(env.runtime)
    await run_outbox(env.runtime)
    for aid in ADMIN_IDS:
        assert len(texts(env, aid, "패널 잔액이")) == 2


async def test_scheduled_jobs_run_on_their_own(tmp_path):
    async with running_shop(tmp_path, schedule=True, scheduler={"poll_interval_seconds": 1}) as env:
        user = env.user(TG)
        await env.credit(TG, 10_000)
        await user.wait_for("충전이 완료")
        oid, pid = await place(env, TG, "https://instagram.com/auto")
        env.sim.set_order(pid, status="Completed")
        await user.wait_for(f"#{oid}.*완료", timeout=8)


async def test_a_run_longer_than_its_period_is_skipped_quietly(caplog):
    """The outbox job ticks every second; a broadcast drains for minutes. The overlapping
    ticks are skipped (never two drains at once) without a WARNING every second."""
    import asyncio
    import logging

    from bot.jobs import Jobs

    caplog.set_level(logging.DEBUG)
    running, overlaps, runs = 0, 0, 0

    async def slow(_rt) -> None:
        nonlocal running, overlaps, runs
        running += 1
        runs += 1
        overlaps = max(overlaps, running)
        await asyncio.sleep(0.7)
        running -= 1

    jobs = Jobs(rt=None, config=None)  # type: ignore[arg-type]
    jobs.add(slow, 0.1, 0)
    jobs.scheduler.start()
    try:
        await asyncio.sleep(1.6)
    finally:
        jobs.scheduler.shutdown(wait=False)
    assert runs >= 2 and overlaps == 1
    skipped = [r for r in caplog.records if "maximum number of running" in r.getMessage()]
    assert skipped == []
