"""Security pass over the real bot: forged and replayed callback data, admin buttons and
commands by customers, expired confirmations, and markup injection rendered inert."""

from __future__ import annotations

import re

import httpx

from bot.notifier import OutboxSender
from sandbox.telegram import FakeUser
from shop import statuses as st
from shop.jobs import ShopJobs
from shop.models import OrderInput, PlaceOutcome
from tests.botenv import ShopEnv, order_to_card

VICTIM, MALLORY = 31, 66
SECRET_LINK = "https://instagram.com/victim.secret.account"


async def ledger_ok(env: ShopEnv) -> None:
    assert all(not rows for rows in (await env.shop.check_ledger()).values())


async def victim_order(
    env: ShopEnv, panel_id: str = "102", expect: PlaceOutcome = PlaceOutcome.PLACED
) -> int:
    """A placed order of the victim on a service that allows cancel and refill."""
    await env.credit(VICTIM, 100_000)
    user = await env.shop.users.by_telegram(VICTIM)
    assert user is not None
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == panel_id)
    q = await env.shop.orders.quote(user.id, svc.id, OrderInput(link=SECRET_LINK, quantity=100))
    placed = await env.shop.orders.place(user.id, q.token)
    assert placed.outcome == expect
    return placed.order.id


async def greeting(u: FakeUser):
    await u.send_command("/start")
    return await u.wait_for("현재 잔액")


def seen_by(u: FakeUser) -> str:
    texts = [m.text + str(m.reply_markup) for m in u.transcript()]
    texts += [f"{a.text}" for a in u.callback_answers]
    return "\n".join(texts)


async def press_all(u: FakeUser, datas: list[str], on) -> None:
    for data in datas:
        qid = await u.press_data(data, on)
        await u.wait_callback_answer(qid)


async def test_forged_history_buttons_for_another_users_order(env: ShopEnv):
    oid = await victim_order(env)
    env.clock.advance(hours=60)  # late enough that refill/cancel would be offered
    mallory = env.user(MALLORY)
    await env.credit(MALLORY, 5_000)
    msg = await greeting(mallory)
    before = await env.shop.ctx.db.fetch_all("SELECT * FROM orders WHERE id = ?", (oid,))
    await press_all(mallory, [f"h:{v}:{oid}" for v in ("o", "c", "f", "r")], msg)
    await greeting(mallory)  # everything before this has been handled
    seen = seen_by(mallory)
    assert "victim.secret" not in seen and f"#{oid}" not in seen
    after = await env.shop.ctx.db.fetch_all("SELECT * FROM orders WHERE id = ?", (oid,))
    assert dict(before[0]) == dict(after[0])  # nothing requested, nothing refreshed
    assert env.sim.calls["cancel"] == 0 and env.sim.calls["refill"] == 0
    assert await env.balance(MALLORY) == 5_000
    await ledger_ok(env)


async def test_replayed_confirm_token_of_another_user_charges_nobody(env: ShopEnv):
    await env.credit(VICTIM, 100_000)
    user = await env.shop.users.by_telegram(VICTIM)
    assert user is not None
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    q = await env.shop.orders.quote(user.id, svc.id, OrderInput(link=SECRET_LINK, quantity=100))
    mallory = env.user(MALLORY)
    await env.credit(MALLORY, 100_000)
    msg = await greeting(mallory)
    await mallory.press_data(f"o:ok:{q.token}", msg)  # before the victim confirmed
    await mallory.wait_for("찾을 수 없어요")
    assert env.sim.orders_created() == 0
    placed = await env.shop.orders.place(user.id, q.token)
    assert placed.outcome == PlaceOutcome.PLACED
    await mallory.press_data(f"o:ok:{q.token}", msg)  # a replay after it was placed
    await mallory.wait_for("찾을 수 없어요")
    assert "victim.secret" not in seen_by(mallory)
    assert await env.balance(MALLORY) == 100_000
    assert await env.balance(VICTIM) == 100_000 - placed.order.price
    assert env.sim.orders_created() == 1
    await ledger_ok(env)


async def test_admin_buttons_and_commands_by_a_customer_do_nothing(env: ShopEnv):
    env.shop.ctx.panel._http.timeout = httpx.Timeout(0.3)
    env.sim.set_quirk("slow_add", times=1, value=2.0)
    oid = await victim_order(env, "101", PlaceOutcome.NEEDS_REVIEW)
    env.sim.release_slow()
    user = await env.shop.users.by_telegram(VICTIM)
    assert user is not None
    topup = await env.shop.topups.request_bank(user.id, 30_000, "김입금")
    balance = await env.balance(VICTIM)
    mallory = env.user(MALLORY)
    msg = await greeting(mallory)
    count = len(mallory.bot_messages())
    forged = [
        f"a:tp:ok:{topup.id}",
        f"a:tp:no:{topup.id}",
        f"a:rv:ref:{oid}",
        f"a:rv:att:{oid}",
        "a:m:tp",
        "a:m:rv",
        "a:m:st",
        "a:m:lu",
        f"a:lu:adj:{user.id}",
        "a:adj:ok:abc123",
        "a:bc:ok:abc123",
        "a:sv:sync",
    ]
    await press_all(mallory, forged, msg)
    assert all(not a.text for a in mallory.callback_answers)  # silent, like any stale button
    await mallory.send_command("/admin")
    await mallory.wait_for("무엇을 도와드릴까요")
    await mallory.send_text(str(VICTIM))  # would be a lookup if the console had opened
    await mallory.wait_for("무엇을 도와드릴까요|주문|메뉴")
    assert len(mallory.bot_messages()) == count + 2
    assert "김입금" not in seen_by(mallory) and "victim" not in seen_by(mallory)
    assert (await env.shop.topups.get(topup.id)).status == "pending"
    order = await env.shop.orders.get_for_user(user.id, oid)
    assert order is not None and order.status == st.NEEDS_REVIEW
    assert await env.balance(VICTIM) == balance
    assert env.sim.calls["services"] == 1  # a:sv:sync did not resync
    await ledger_ok(env)


async def test_expired_confirmation_is_refused(env: ShopEnv):
    await env.credit(40, 50_000)
    u = env.user(40)
    await order_to_card(u, "https://instagram.com/late")
    env.clock.advance(minutes=16)
    await u.press("✅ 확인")
    await u.wait_for("시간이 지났어요")
    assert await env.balance(40) == 50_000
    assert env.sim.adds() == []
    user = await env.shop.users.by_telegram(40)
    assert (await env.shop.orders.history(user.id, 0))[1] == 0


EVIL = "<b>Evil</b> & <i>x"


async def test_markup_in_names_links_and_depositors_is_shown_literally(env: ShopEnv):
    u = env.emu.user(50, first_name=EVIL, language_code="ko")
    await env.credit(50, 100_000)
    # The confirmation card and the order history echo the link literally.
    card = await order_to_card(u, "https://instagram.com/<b>bold</b>")
    assert "<b>bold</b>" in card
    await u.press("✅ 확인")
    placed = await u.wait_for("접수되었어요")
    oid = re.search(r"#(\d+)", placed.text).group(1)
    await u.send_text("📋 주문내역")
    listing = await u.wait_for(f"#{oid}")
    await u.press_data(f"h:o:{oid}", listing)
    details = await u.wait_for("<b>bold</b>")
    assert "instagram.com/<b>bold</b>" in details.text
    # A bank top-up with an entity-looking depositor name: the admins' alert shows it as typed.
    await u.send_text("💳 잔액충전")
    await u.wait_for("충전 방법")
    await u.press("🏦 무통장입금")
    await u.wait_for("충전하실 금액")
    await u.send_text("30000")
    await u.wait_for("입금자명")
    await u.send_text("김&lt;b&gt;")
    await u.wait_for(r"충전 요청 #\d+")
    a0 = env.admin(0)
    await greeting(a0)
    mark = a0.mark()
    await OutboxSender(ShopJobs(env.shop.ctx), env.app.bot, chat_interval=0).drain()
    alert = await a0.wait_for("입금자: 김", after=mark)
    assert "김&lt;b&gt;" in alert.text and EVIL in alert.text
    # The admin's customer lookup shows the first name literally too.
    await a0.send_command("/admin")
    await a0.wait_for("관리자 메뉴")
    await a0.press("👤 고객 조회")
    await a0.wait_for("텔레그램 ID")
    await a0.send_text("50")
    lookup = await a0.wait_for("잔액")
    assert EVIL in lookup.text
    await ledger_ok(env)
