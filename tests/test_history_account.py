"""Order history and My account through the real bot, the emulator and the panel simulator."""

from __future__ import annotations

import re

from shop import statuses as st
from shop.models import OrderInput, PlaceOutcome


async def place(env, tg: int, panel_service: str, link: str, quantity: int = 1000):
    """Place an order straight through the shop (fast); returns the PlaceResult."""
    user = await env.shop.users.ensure(tg, None, f"고객{tg}", "ko")
    service = next(s for s in await env.shop.catalog.all() if s.panel_id == panel_service)
    quote = await env.shop.orders.quote(
        user.id, service.id, OrderInput(link=link, quantity=quantity)
    )
    return await env.shop.orders.place(user.id, quote.token)


async def poll(env) -> None:
    env.clock.advance(hours=1)  # every order is due again
    await env.shop.fulfilment.poll_once()


async def test_failed_order_shows_zero_used(env):
    await env.credit(1, 50_000)
    env.sim.set_balance("0")  # the panel refuses: not enough funds
    result = await place(env, 1, "101", "https://instagram.com/failme")
    assert result.outcome == PlaceOutcome.FAILED
    u = env.user(1)
    await u.send_text("📋 주문내역")
    msg = await u.wait_for(r"주문내역")
    assert f"#{result.order.id}" in msg.text
    assert "주문실패" in msg.text and "사용금액: 0원" in msg.text
    assert await env.balance(1) == 50_000


async def test_in_progress_bar_then_partial_amount(env):
    await env.credit(1, 50_000)
    result = await place(env, 1, "101", "https://instagram.com/partial")
    order = result.order
    price = order.price
    env.sim.set_order(order.panel_order_id, status="In progress", remains=600, start_count=10)
    await poll(env)
    u = env.user(1)
    await u.send_command("/orders")
    msg = await u.wait_for(r"진행중")
    assert "▓▓▓▓░░░░░░ 40%" in msg.text
    await u.press(f"#{order.id} 상세보기")
    detail = await u.wait_for(r"주문 #\d+")
    assert "instagram.com/partial" in detail.text and "2026-11-25 10:00" in detail.text
    assert "남은 수량: 600" in detail.text
    # In progress: FAQ 4, no cancel button.
    assert not any("취소" in label for label in detail.button_labels())

    env.sim.set_order(order.panel_order_id, status="Partial", remains=400)
    await poll(env)
    refund = price * 400 // 1000
    await u.press("🔄 새로고침", detail)
    updated = await u.wait_for(r"부분완료")
    assert f"사용금액: {price - refund:,}원" in updated.text
    assert await env.balance(1) == 50_000 - price + refund


async def test_cancel_from_details_then_zero_used(env):
    await env.credit(1, 50_000)
    result = await place(env, 1, "201", "https://instagram.com/p/cancelme")
    order = result.order
    u = env.user(1)
    await u.send_text("📋 주문내역")
    await u.wait_for(r"보류중")
    await u.press(f"#{order.id} 상세보기")
    detail = await u.wait_for(r"주문 #\d+")
    await u.press("✖ 취소 요청", detail)
    await u.wait_for(r"취소를 요청했어요")
    await u.press_data(f"h:c:{order.id}", detail)  # the 48-hour notice's button, tapped later
    await u.wait_for(r"이미 취소를 요청한")
    env.sim.advance()  # the panel applies the cancel on its next stage
    await poll(env)
    got = await env.shop.orders.get_for_user(order.user_id, order.id)
    assert got.status == st.CANCELED and got.amount_used == 0
    await u.send_text("📋 주문내역")
    msg = await u.wait_for(r"주문취소")
    assert "사용금액: 0원" in msg.text
    assert await env.balance(1) == 50_000


async def test_refill_button_for_completed_refill_service(env):
    await env.credit(1, 50_000)
    order = (await place(env, 1, "101", "https://instagram.com/refillme", 100)).order
    env.sim.set_order(order.panel_order_id, status="Completed")
    await poll(env)
    u = env.user(1)
    await u.send_text("📋 주문내역")
    await u.wait_for(r"주문완료")
    await u.press(f"#{order.id} 상세보기")
    detail = await u.wait_for(r"주문 #\d+")
    assert "🛠 A/S 리필" in detail.button_labels()
    assert "✖ 취소 요청" not in detail.button_labels()
    await u.press("🛠 A/S 리필", detail)
    after = await u.wait_for(r"A/S 리필을 요청했어요")
    assert "🛠 A/S 리필" not in after.button_labels()  # one refill at a time
    got = await env.shop.orders.get_for_user(order.user_id, order.id)
    assert got.refill_status == "pending"


async def test_forged_callbacks_reveal_nothing_and_cancel_nothing(env):
    await env.credit(1, 50_000)
    victim = (await place(env, 1, "201", "https://instagram.com/p/secret-victim")).order
    thief = env.user(2)
    for data in (f"h:o:{victim.id}", f"h:r:{victim.id}", f"h:c:{victim.id}", f"h:f:{victim.id}"):
        await thief.send_command("/orders")  # a fresh message to press on each time
        empty = await thief.wait_for(r"주문내역이 없어요")
        await thief.press_data(data, empty)
        reply = await thief.wait_for(r"찾을 수 없어요")
        assert "secret-victim" not in reply.text and str(victim.price) not in reply.text
    assert all("secret-victim" not in m.text for m in thief.transcript())
    after = await env.shop.orders.get_for_user(victim.user_id, victim.id)
    assert not after.cancel_requested and after.status == st.PENDING
    assert not env.sim.order(victim.panel_order_id).cancel_requested


async def test_pagination_with_seven_orders(env):
    await env.credit(1, 500_000)
    ids = [(await place(env, 1, "201", f"https://instagram.com/p/n{i}")).order.id
           for i in range(7)]  # fmt: skip
    u = env.user(1)
    await u.send_text("📋 주문내역")
    first = await u.wait_for(r"1/2")
    shown = [int(x) for x in re.findall(r"#(\d+) ", first.text)]
    assert shown == sorted(ids, reverse=True)[:5]  # newest first
    assert "다음 ▶" in first.button_labels() and "◀ 이전" not in first.button_labels()
    await u.press("다음 ▶", first)
    second = await u.wait_for(r"2/2")
    assert [int(x) for x in re.findall(r"#(\d+) ", second.text)] == sorted(ids)[:2][::-1]
    assert "◀ 이전" in second.button_labels() and "다음 ▶" not in second.button_labels()


async def test_account_first_line_and_topup_button(env):
    await env.credit(1, 18_500)
    u = env.user(1)
    await u.send_text("👤 내 정보")
    msg = await u.wait_for(r"잔액")
    assert msg.text.splitlines()[0] == "잔액: 18,500원"
    assert "충전 +18,500원" in msg.text
    assert any(b.get("callback_data") == "t:menu" for b in msg.buttons())
    await env.credit(1, 6_500)
    await u.send_command("/balance")
    again = await u.wait_for(r"잔액: 25,000원")
    assert again.text.splitlines()[0] == "잔액: 25,000원"


async def test_account_in_english(env):
    await env.credit(5, 18_500)
    u = env.user(5, language_code="en")
    await u.send_text("👤 My account")
    msg = await u.wait_for(r"Balance")
    assert msg.text.splitlines()[0] == "Balance: 18,500 KRW"
