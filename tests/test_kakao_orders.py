"""Ordering and topping up on KakaoTalk, end to end through the fake Open Builder over HTTP:
every answer is checked against Kakao's limits (the fake raises on any refusal)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.jobs import run_outbox
from sandbox.kakao import OpenBuilder
from sandbox.panel import PanelSimulator
from storage import ledger
from tests.botenv import ADMIN_IDS, PANEL_KEY
from tests.kakaoenv import KakaoEnv, running_kakao


@pytest.fixture
async def kenv(tmp_path):
    async with running_kakao(tmp_path) as env:
        yield env


async def orders_of(kenv: KakaoEnv, u) -> list:
    user = await kenv.customer(u)
    return (await kenv.shop.orders.history(user.id, 0, 50))[0]


async def test_default_order_with_garbage_input_and_a_double_confirm_after_a_timeout(
    kenv: KakaoEnv,
) -> None:
    u = kenv.user()
    await kenv.credit(u, 100_000)
    await u.enter()
    await kenv.to_service(u, "101")
    ask = await u.tap("🛒 주문하기")
    assert "링크" in ask.text
    assert "링크" in (await u.say("링크 없음 ㅎㅎ")).text  # garbage: asked again, with why
    assert "수량" in (await u.say("https://instagram.com/kakao_shop")).text
    again = await u.say("많이 주세요")
    assert "숫자" in again.text and "수량" in again.text
    card = await u.say("1,000개")
    assert "주문 확인" in card.text and "100,000원 → 79,420원" in card.text
    # 확인 answered too late for Kakao: the customer sees Kakao's error, our side commits.
    late = await u.tap("✅ 확인", deadline=0.001, expect_error=True)
    assert late.late and not late.ok
    # The card's button is still in the chat: tapping it again is the same order.
    second = await u.tap("✅ 확인", turn=card)
    assert "#" in second.text
    await kenv.front.idle()
    orders = await orders_of(kenv, u)
    assert len(orders) == 1 and orders[0].price == 20_580 and orders[0].quantity == 1000
    assert str(orders[0].id) in second.text
    assert kenv.env.sim.orders_created() == 1
    assert await kenv.balance(u) == 100_000 - 20_580
    user = await kenv.customer(u)
    rows = await kenv.shop.ctx.db.fetch_all(
        "SELECT kind FROM ledger WHERE user_id = ? AND kind = 'order'", (user.id,)
    )
    assert len(rows) == 1
    assert not any((await ledger.check_invariants(kenv.shop.ctx.db.reader)).values())


async def test_auto_likes_range_and_a_package(kenv: KakaoEnv) -> None:
    u = kenv.user()
    await kenv.credit(u, 300_000)
    await u.enter()
    await kenv.to_service(u, "601")
    assert "아이디" in (await u.tap("🛒 주문하기")).text
    assert "최소" in (await u.say("@kakao_shop")).text
    assert "최대" in (await u.say("100")).text
    assert "최소" in (await u.say("50")).text  # max below min: refused, asked again
    assert "게시물" in (await u.say("200")).text
    delay = await u.say("10")
    assert "지연" in delay.text and "30분" in delay.labels
    assert "종료일" in (await u.tap("30분")).text
    card = await u.tap("종료일 없음")
    assert "주문 확인" in card.text and "100" in card.text and "200" in card.text
    placed = await u.tap("✅ 확인")
    assert "접수" in placed.text
    sub = (await orders_of(kenv, u))[0]
    assert (sub.sub_min, sub.sub_max, sub.sub_posts) == (100, 200, 10)
    assert sub.price == -(-sub.price_per_1000 * 200 * 10 // 1000)  # max × posts reserved

    await kenv.to_service(u, "401")
    assert "링크" in (await u.tap("🛒 주문하기")).text
    card = await u.say("https://instagram.com/package_me")
    assert "주문 확인" in card.text
    assert "접수" in (await u.tap("✅ 확인")).text
    package = (await orders_of(kenv, u))[0]
    assert package.link == "https://instagram.com/package_me" and package.quantity == 1


async def test_news_at_the_next_message_and_restart_resumes_mid_order(tmp_path) -> None:
    ob = OpenBuilder()
    sim = PanelSimulator(api_key=PANEL_KEY, auto_advance=False)  # the panel outlives the shop
    try:
        async with running_kakao(tmp_path, ob=ob, sim=sim) as kenv:
            u = kenv.user()
            await kenv.credit(u, 100_000)
            await u.enter()
            await kenv.to_service(u, "101")
            await u.tap("🛒 주문하기")
            await u.say("https://instagram.com/first")
            await u.say("100")
            await u.tap("✅ 확인")
            order = (await orders_of(kenv, u))[0]
            kenv.env.sim.set_order(order.panel_order_id, status="Completed")
            await kenv.shop.fulfilment.poll_once()
            # No Event API: the completion waits for the customer's next message.
            await kenv.to_service(u, "101")
            news = u.turns[-3]  # the "메뉴" turn of to_service
            assert news.texts[0].startswith("📬") and "작업이 완료됐어요" in news.text
            await u.tap("🛒 주문하기")
            await u.say("https://instagram.com/second")  # now the shop restarts
        async with running_kakao(tmp_path, ob=ob, sim=sim) as kenv:
            card = await u.say("200")  # the quantity: the conversation resumed
            assert "주문 확인" in card.text and "instagram.com/second" in card.text
            assert "접수" in (await u.tap("✅ 확인")).text
    finally:
        await ob.aclose()


async def test_slow_panel_partial_refund_and_top_up_news_by_event_api(tmp_path) -> None:
    async with running_kakao(tmp_path, event_api=True) as kenv:
        sim = kenv.env.sim
        u = kenv.user()
        admin = kenv.env.admin()
        await u.enter()
        # A bank top-up requested on KakaoTalk, approved by a Telegram admin.
        await u.tap("💳 잔액충전")
        await u.tap(re.compile("무통장"))
        assert "성함" in (await u.say("50000")).text
        requested = await u.say("홍길동")
        assert re.search(r"충전 요청 #\d+", requested.text)
        await run_outbox(kenv.env.runtime)  # the admins' notice goes out on Telegram
        notice = await admin.wait_for("입금자: 홍길동")
        assert f"kakao #{(await kenv.customer(u)).id}" in notice.text
        await admin.press("승인", notice)
        await admin.wait_for("승인")
        await run_outbox(kenv.env.runtime)  # pushed by the Event API …
        await run_outbox(kenv.env.runtime)  # … and its task result read
        assert any("50,000원 충전이 완료됐어요" in e for e in u.events())

        # The panel is slow: 확인 is answered in time, the result comes as news.
        kenv.front.settings = dataclasses.replace(kenv.front.settings, budget=1.0)
        sim.set_quirk("slow_add", value=30.0)
        await kenv.to_service(u, "101")
        await u.tap("🛒 주문하기")
        await u.say("https://instagram.com/slow_panel")
        await u.say("1000")
        accepted = await u.tap("✅ 확인")
        assert accepted.elapsed < 1.5 and "접수" in accepted.text
        sim.release_slow()
        await kenv.shop.orders.wait_background(5)
        await run_outbox(kenv.env.runtime)
        assert any("패널에 접수" in e for e in u.events())
        order = (await orders_of(kenv, u))[0]
        sim.set_order(order.panel_order_id, status="Partial", remains=400)
        await kenv.shop.fulfilment.poll_once()
        await run_outbox(kenv.env.runtime)
        partial = [e for e in u.events() if "일부만" in e]
        assert partial and "8,232원" in partial[0]  # floor(20,580 × 400 / 1,000) refunded
        assert await kenv.balance(u) == 50_000 - 20_580 + 8_232
        assert kenv.api.cost == 15 * len(u.events())


async def test_auto_likes_min_and_max_typed_at_once(kenv: KakaoEnv) -> None:
    """The FAQ writes the range "100~200": typed so (or "100-200", "100 200") it answers
    both questions; before, "100 200" read as 100,200 and "100~200" as not a number."""
    u = kenv.user()
    await kenv.credit(u, 300_000)
    await u.enter()
    await kenv.to_service(u, "601")
    await u.tap("🛒 주문하기")
    await u.say("@kakao_shop")
    refused = await u.say("300~100")
    assert "최대 수량은 최소 수량(300) 이상" in refused.text and "최소" in refused.text
    assert "적용할까요" in (await u.say("100~200")).text  # on to the number of posts
    await u.tap("◀ 이전")  # back at the max question: a spaced pair is a range too
    assert "적용할까요" in (await u.say("150 250")).text
    await u.say("10")
    await u.tap("30분")
    card = await u.tap("종료일 없음")
    assert "150" in card.text and "250" in card.text
    assert "접수" in (await u.tap("✅ 확인")).text
    sub = (await orders_of(kenv, u))[0]
    assert (sub.sub_min, sub.sub_max, sub.sub_posts) == (150, 250, 10)


async def test_quantity_in_korean_units(kenv: KakaoEnv) -> None:
    u = kenv.user()
    await kenv.credit(u, 100_000)
    await u.enter()
    await kenv.to_service(u, "202")
    await u.tap("🛒 주문하기")
    await u.say("https://instagram.com/p/manlikes")
    card = await u.say("2만개")
    assert "주문 확인" in card.text and "20,000개" in card.text
    assert "접수" in (await u.tap("✅ 확인")).text
    assert (await orders_of(kenv, u))[0].quantity == 20_000


async def test_typed_cancel_mid_order_and_mid_top_up(kenv: KakaoEnv) -> None:
    """ "취소" typed is the ✖ button: not a link, a quantity, nor a depositor's name (which
    filed a top-up request named "취소" for the admins to approve)."""
    u = kenv.user()
    await kenv.credit(u, 100_000)
    await u.enter()
    await kenv.to_service(u, "101")
    await u.tap("🛒 주문하기")
    await u.say("https://instagram.com/cancel_me")
    assert "취소했어요" in (await u.say("취소")).text
    assert "주문 확인" not in (await u.say("100")).text  # the draft is gone
    await u.tap("💳 잔액충전")
    await u.tap(re.compile("무통장"))
    assert "성함" in (await u.say("2만원")).text
    assert "취소했어요" in (await u.say("취소")).text
    user = await kenv.customer(u)
    pending = await kenv.shop.ctx.db.fetch_all(
        "SELECT id FROM topups WHERE user_id = ? AND status = 'pending'", (user.id,)
    )
    assert pending == [] and kenv.env.sim.orders_created() == 0
    assert await kenv.balance(u) == 100_000 and not kenv.ob.violations


async def test_a_blocked_customer_is_told_once_and_not_asked_again(kenv: KakaoEnv) -> None:
    u = kenv.user()
    await kenv.credit(u, 50_000)
    await u.enter()
    user = await kenv.customer(u)
    assert await kenv.shop.admin.set_banned(ADMIN_IDS[0], user.id, True, "스팸 주문")
    await kenv.to_service(u, "101")
    await u.tap("🛒 주문하기")
    await u.say("https://instagram.com/blocked")
    refused = await u.say("100")
    assert "이용이 제한된 계정" in refused.text
    assert "수량" not in refused.text and "🛒 주문하기" in refused.labels  # the menu, no loop
    assert "이용이 제한된 계정" not in (await u.say("200")).text  # the flow has ended
    assert await kenv.balance(u) == 50_000 and kenv.env.sim.orders_created() == 0


async def test_drip_feed_over_the_maximum_asks_for_fewer_runs(kenv: KakaoEnv) -> None:
    """runs × quantity over the service's maximum: the runs question again (its message
    says "회차 수를 줄여 주세요"), not the interval again and again."""
    u = kenv.user()
    await kenv.credit(u, 2_000_000)
    await u.enter()
    await kenv.to_service(u, "102")
    await u.tap("🛒 주문하기")
    await u.say("https://instagram.com/drip_me")
    await u.say("5000")
    await u.tap("네, 나눠서 넣을게요")
    await u.say("100")
    refused = await u.say("30")  # the interval: 5,000 × 100 is over 50,000
    assert "회차 수를 줄여" in refused.text and "몇 회에 나눠" in refused.text
    assert "간격" in (await u.say("10")).text
    card = await u.say("30")
    assert "주문 확인" in card.text and "50,000" in card.text
    assert "접수" in (await u.tap("✅ 확인")).text
    order = (await orders_of(kenv, u))[0]
    assert (order.quantity, order.runs) == (50_000, 10)


async def test_a_cancel_request_is_answered_once(kenv: KakaoEnv) -> None:
    """The answer to ✖ 취소 요청 heads the order's details; Telegram also pops it up, but
    on KakaoTalk the same words were a second bubble right above."""
    u = kenv.user()
    await kenv.credit(u, 100_000)
    await u.enter()
    await kenv.to_service(u, "103")  # cancel by API
    await u.tap("🛒 주문하기")
    await u.say("https://instagram.com/cancel_later")
    await u.say("100")
    await u.tap("✅ 확인")
    await u.tap("📋 주문내역")
    await u.tap(re.compile(r"^#\d+"))
    answer = await u.tap("✖ 취소 요청")
    assert answer.text.count("취소를 요청했어요") == 1 and "📦 주문 #" in answer.text
    again = await u.tap("🔄 새로고침")
    assert again.texts[0] == "최신 상태로 새로고침했어요."  # a toast of its own stays a bubble
