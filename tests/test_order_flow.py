"""The customer's order flow, driven through the real bot over the Bot API emulator."""

from __future__ import annotations

import asyncio
import re

from sandbox.telegram import FakeUser
from tests.botenv import running_shop

KR_FOLLOWERS = ("인스타그램 한국인 팔로워", r"^#\d+ 인스타 한국인 팔로워 \| 실제")
PRICE_101 = 20580  # per 1000: ceil(9.80 × 1400 × 1.5)


async def pick_service(u: FakeUser, category: str, service_rx: str, *, en: bool = False) -> None:
    """Menu → platform → category → service → card → 주문하기 (up to the first question)."""
    await u.send_text("🛒 Order" if en else "🛒 주문하기")
    await u.wait_for("platform" if en else "플랫폼")
    await u.press(re.compile("^📸 Instagram" if en else "^📸 인스타그램"))
    await u.wait_for("category" if en else "카테고리")
    await u.press(category)
    await u.wait_for(r"\(1/\d+\)")
    await u.press(re.compile(service_rx))
    await u.wait_for("estimate" if en else "추정치")
    await u.press("🛒 Order this" if en else "🛒 주문하기")


async def answer(u: FakeUser, text: str, expect: str) -> str:
    await u.send_text(text)
    return (await u.wait_for(expect)).text


async def confirm_card(u: FakeUser) -> str:
    card = next(m for m in reversed(u.bot_messages()) if "o:ok:" in str(m.reply_markup))
    return next(
        b["callback_data"] for b in card.buttons() if b["callback_data"].startswith("o:ok:")
    )


async def test_korean_default_order_with_thousands_quantity(env):
    await env.credit(1, 50_000)
    u = env.user(1)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await answer(u, "https://www.instagram.com/myshop/?igshid=abc", "수량")
    card = await answer(u, "1,000개", "주문 확인")
    assert "20,580원" in card and "50,000원 → 29,420원" in card
    assert "https://instagram.com/myshop" in card
    # First order: the terms were shown once before the card.
    assert any("이용약관" in m.text for m in u.bot_messages())
    await u.press("✅ 확인")
    placed = await u.wait_for("접수되었어요")
    assert "주문완료" not in placed.text and re.search(r"#\d+", placed.text)
    assert await env.balance(1) == 50_000 - PRICE_101
    adds = env.sim.adds()
    assert len(adds) == 1 and adds[0].quantity == "1000"
    # The confirmation card lost its buttons, so a second tap has nothing to press.
    assert not any("o:ok:" in str(m.reply_markup) for m in u.bot_messages())


async def test_english_flow(env):
    await env.credit(2, 50_000)
    u = env.user(2, language_code="en")
    await pick_service(u, *KR_FOLLOWERS, en=True)
    await u.wait_for("link")
    await answer(u, "instagram.com/someone", "quantity")
    card = await answer(u, "500", "Please confirm")
    assert "10,290 KRW" in card
    await u.press("✅ Confirm")
    msg = await u.wait_for("received")
    assert "#" in msg.text
    assert await env.balance(2) == 50_000 - 10_290


async def test_package_needs_only_a_link(env):
    await env.credit(3, 50_000)
    u = env.user(3)
    await pick_service(u, "인스타그램 패키지", r"패키지 100명")
    await u.wait_for("링크")
    card = await answer(u, "https://instagram.com/pkg", "주문 확인")
    assert "25,200원" in card  # a flat price per order: ceil(12.00 × 1400 × 1.5)
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    assert env.sim.orders_created() == 1
    assert await env.balance(3) == 50_000 - 25_200


async def test_custom_comments_escaped_and_counted(env):
    await env.credit(4, 100_000)
    u = env.user(4)
    await pick_service(u, "인스타그램 댓글", r"커스텀 댓글")
    await u.wait_for("링크")
    await answer(u, "https://instagram.com/p/abc", "댓글 내용")
    err = await answer(u, "하나\n둘", "5 ~ 500줄")  # too few lines → reason + same question
    assert "지금 2줄" in err
    await u.wait_for("한 줄에 하나씩")
    lines = ["<b>x</b>", "좋아요", "멋져요", "최고예요", "대박"]
    card = await answer(u, "\n".join(lines), "주문 확인")
    assert "댓글: 5줄" in card and "<b>x</b>" in card  # shown literally, not as markup
    src = u.last_bot_message().source or ""
    assert "&lt;b&gt;x&lt;/b&gt;" in src
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    (add,) = env.sim.adds()
    assert add.fields["comments"].splitlines() == lines


async def test_auto_likes_subscription_shows_reserve(env):
    await env.credit(5, 1_000_000)
    u = env.user(5)
    await pick_service(u, "인스타그램 자동 좋아요", r"자동 좋아요")
    await u.wait_for("아이디")
    await answer(u, "@My.Shop", "최소")
    await answer(u, "100", "최대")
    err = await answer(u, "50", "최소 수량")  # max below min
    assert "100" in err
    await answer(u, "200", "게시물 몇 개")
    await answer(u, "10", "지연 시간")
    await u.press("10분")
    await u.wait_for("종료일")
    await answer(u, "2020-01-01", "내일 이후")  # in the past → the same question again
    await u.press("종료일 없음")
    card = (await u.wait_for("주문 확인")).text
    # 200 likes × 10 posts = 2,000 units at ceil(2.80 × 1400 × 1.5) = 5,880 per 1000.
    assert "11,760원" in card and "예약" in card and "돌려드려요" in card
    assert "@my.shop" in card
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    assert await env.balance(5) == 1_000_000 - 11_760


async def test_bad_inputs_reprompt_and_charge_nothing(env):
    await env.credit(6, 50_000)
    u = env.user(6)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await answer(u, "javascript:alert(1)", "https://")
    await u.wait_for("링크를 보내")
    await answer(u, "<b>x</b>", "https:// 로 시작하는")
    await answer(u, "x" * 10_000, "너무 길어요")
    await u.wait_for("링크를 보내")
    await u.send_sticker()
    await u.wait_for("글자로 입력")
    await u.wait_for("링크를 보내")
    await answer(u, "https://instagram.com/ok", "수량")
    await answer(u, "많이", "숫자로")
    await answer(u, "0", "0보다 큰")
    await answer(u, "999999", "10 ~ 5,000")
    await u.wait_for("수량")
    await u.send_photo()
    await u.wait_for("글자로 입력")
    assert env.sim.orders_created() == 0
    assert await env.balance(6) == 50_000
    # The flow still works after all that.
    await answer(u, "100", "주문 확인")


async def test_link_html_is_escaped_on_the_card(env):
    await env.credit(7, 50_000)
    u = env.user(7)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await answer(u, "https://instagram.com/<b>x</b>", "수량")
    await u.send_text("100")
    card = await u.wait_for("주문 확인")
    assert "instagram.com/<b>x</b>" in card.text  # the customer sees it literally
    assert "instagram.com/&lt;b&gt;x&lt;/b&gt;" in (card.source or "")


async def test_double_confirm_places_one_order(env):
    await env.credit(8, 50_000)
    u = env.user(8)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await answer(u, "https://instagram.com/double", "수량")
    await answer(u, "1000", "주문 확인")
    data = await confirm_card(u)
    card = u.last_bot_message()
    await u.press_data(data, card)
    await u.press_data(data, card)  # back to back, before the first is answered
    await u.wait_for("이미 접수된 주문", timeout=5)
    texts = [m.text for m in u.bot_messages()]
    placed = [x for x in texts if "접수되었어요" in x]
    again = [x for x in texts if "이미 접수된" in x]
    assert len(placed) == 1 and len(again) == 1
    assert re.search(r"#\d+", placed[0]).group() == re.search(r"#\d+", again[0]).group()
    assert env.sim.orders_created() == 1
    assert await env.balance(8) == 50_000 - PRICE_101


async def test_insufficient_balance_says_how_much(env):
    await env.credit(9, 10_000)
    u = env.user(9)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await answer(u, "https://instagram.com/poor", "수량")
    card = await answer(u, "1000", "주문 확인")
    assert "10,580원" in card  # the card already warns
    await u.press("✅ 확인")
    msg = await u.wait_for("충전하신 뒤")
    assert "10,580원" in msg.text
    assert any(b["callback_data"] == "t:menu" for b in msg.buttons())
    assert env.sim.orders_created() == 0 and await env.balance(9) == 10_000


async def test_cancel_and_other_menu_end_the_order(env):
    u = env.user(10)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await u.send_command("/cancel")
    await u.wait_for("취소했어요")
    await u.send_text("https://instagram.com/late")  # no longer in the flow
    await u.wait_for("무엇을 도와드릴까요")
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await u.send_text("❓ 자주 묻는 질문")  # another menu entry leaves the order at once
    await u.wait_for("Q. 주문은 어떻게")
    await u.send_text("https://instagram.com/late2")  # the link question is gone
    await u.wait_for("무엇을 도와드릴까요")
    assert env.sim.orders_created() == 0


async def test_back_buttons_walk_back(env):
    u = env.user(11)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await u.press("◀ 이전")
    await u.wait_for("추정치")
    await u.press("◀ 상품 목록")
    await u.wait_for(r"\(1/\d+\)")
    await u.press("◀ 카테고리")
    await u.wait_for("카테고리를 선택")
    await u.press("◀ 플랫폼")
    await u.wait_for("플랫폼을 선택")


async def test_restart_between_link_and_quantity(tmp_path):
    async with running_shop(tmp_path) as env:
        sim, emu = env.sim, env.emu
        await env.credit(12, 50_000)
        u = env.user(12)
        await pick_service(u, *KR_FOLLOWERS)
        await u.wait_for("링크")
        await answer(u, "https://instagram.com/restart", "수량")
    async with running_shop(tmp_path, sim=sim, emu=emu) as env2:
        u = env2.user(12)
        await answer(u, "1,000개", "주문 확인")
        await u.press("✅ 확인")
        await u.wait_for("접수되었어요")
        assert sim.orders_created(link="https://instagram.com/restart") == 1
        assert await env2.balance(12) == 50_000 - PRICE_101


async def test_slow_panel_for_one_customer_does_not_delay_another(env):
    await env.credit(13, 50_000)
    a, b = env.user(13), env.user(14)
    await pick_service(a, *KR_FOLLOWERS)
    await a.wait_for("링크")
    await answer(a, "https://instagram.com/slow", "수량")
    await answer(a, "1000", "주문 확인")
    env.sim.set_quirk("slow_add", times=1, value=3.0)
    await a.press("✅ 확인")
    for _ in range(100):  # the add has reached the panel and is being held
        if env.sim.adds():
            break
        await asyncio.sleep(0.01)
    assert env.sim.adds()
    await b.send_command("/start")
    await b.wait_for("현재 잔액", timeout=2)
    assert not any("접수되었어요" in m.text for m in a.bot_messages())  # A is still held
    env.sim.release_slow()
    await a.wait_for("접수되었어요")


async def test_dripfeed_runs_and_interval(env):
    await env.credit(15, 100_000)
    u = env.user(15)
    await pick_service(u, "인스타그램 외국인 팔로워", r"외국인 HQ")
    await u.wait_for("링크")
    await answer(u, "https://instagram.com/drip", "수량")
    await answer(u, "1000", "드립피드")
    await u.press("네, 나눠서 넣을게요")
    await u.wait_for("몇 <b>회</b>|몇 회")
    await answer(u, "1", "2 ~ 100")  # fewer than 2 runs → the same question
    await answer(u, "3", "간격")
    await u.press("30분")
    card = (await u.wait_for("주문 확인")).text
    # 1,000 × 3 runs = 3,000 at ceil(1.25 × 1400 × 1.5) = 2,625 per 1000 → 7,875.
    assert "총 3,000개" in card and "7,875원" in card
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    (add,) = env.sim.adds()
    assert add.fields["runs"] == "3" and add.fields["interval"] == "30"
    assert add.quantity == "1000"


async def test_expired_card_charges_nothing_and_offers_restart(env):
    await env.credit(16, 50_000)
    u = env.user(16)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await answer(u, "https://instagram.com/late", "수량")
    await answer(u, "1000", "주문 확인")
    env.clock.advance(minutes=16)  # past the quote's 15-minute validity
    await u.press("✅ 확인")
    msg = await u.wait_for("시간이 지났어요")
    assert "🛒 다시 주문하기" in msg.button_labels()
    assert env.sim.orders_created() == 0 and await env.balance(16) == 50_000
    await u.press("🛒 다시 주문하기")
    await u.wait_for("플랫폼")


async def test_card_comes_back_after_a_top_up(env):
    """Short of money → top up → the same card (same token and price) → confirm places it."""
    uid = 7301
    await env.credit(uid, 5_000)
    user = await env.shop.users.by_telegram(uid)
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    from shop.models import OrderInput

    q = await env.shop.orders.quote(user.id, svc.id, OrderInput(link="https://instagram.com/z",
                                                                quantity=1000))  # fmt: skip
    assert q.missing > 0
    await env.credit(uid, 50_000)
    u = env.user(uid)
    await u.send_command("/start")
    msg = await u.wait_for(r"잔액")
    await u.press_data(f"o:card:{q.token}", msg)
    card = await u.wait_for(r"20,580")
    await u.press("확인", card)
    await u.wait_for(r"접수")
    assert await env.balance(uid) == 55_000 - 20_580


async def test_idle_conversation_ends_politely(tmp_path, monkeypatch):
    """The 15-minute idle rule, with the timeout shortened instead of waiting 15 minutes."""
    import chat.dialog
    from tests.botenv import running_shop

    monkeypatch.setattr(chat.dialog, "IDLE_SECONDS", 0.5)
    async with running_shop(tmp_path) as env:
        u = env.user(7401)
        await u.send_text("🛒 주문하기")
        await u.wait_for(r"플랫폼")
        msg = await u.wait_for(r"입력이 없어 진행 중이던 주문을 종료", timeout=10)
        assert "🛒 주문하기" in u.current_keyboard()
        assert msg is not None
        await u.send_text("1000")  # outside the conversation now: the menu, no order step
        await u.wait_for(r"무엇을 도와드릴까요")


async def test_an_old_category_button_still_opens_its_category_after_a_sync(env):
    from decimal import Decimal

    from sandbox.panel import SimService

    u = env.user(7501)
    await u.send_text("🛒 주문하기")
    await u.wait_for("플랫폼")
    await u.press(re.compile("^📸 인스타그램"))
    listing = await u.wait_for("카테고리")
    # A new category appears (sorted first) before the customer presses a button.
    env.sim.add_service(SimService(901, "AAA 새 서비스", "Default", "가나다 새 카테고리",
                                   Decimal("1.00"), 10, 1000))  # fmt: skip
    await env.shop.catalog.sync()
    await u.press("인스타그램 한국인 팔로워", listing)
    page = await u.wait_for(r"\(1/\d+\)")
    assert "인스타 한국인 팔로워" in page.text and "AAA 새 서비스" not in page.text


async def test_telegram_range_typed_at_once_and_a_typed_cancel(env):
    """The same conversation on Telegram: "100~200" answers min and max; "취소" typed at
    the depositor's name cancels instead of filing a top-up request named "취소"."""
    await env.credit(11, 1_000_000)
    u = env.user(11)
    await pick_service(u, "인스타그램 자동 좋아요", r"자동 좋아요")
    await u.wait_for("아이디")
    await answer(u, "@my.shop", "최소")
    await answer(u, "100~200", "게시물 몇 개")
    await answer(u, "10", "지연 시간")
    await u.press("10분")
    await u.wait_for("종료일")
    await u.press("종료일 없음")
    card = (await u.wait_for("주문 확인")).text
    assert "11,760원" in card  # 200 likes × 10 posts reserved, as when typed one by one
    await u.send_text("💳 잔액충전")
    await u.wait_for(r"충전 방법")
    await u.press("🏦 무통장입금")
    await answer(u, "2만원", "성함")
    await answer(u, "취소", "취소했어요")
    user = await env.shop.users.by_front("telegram", "11")
    pending = await env.shop.ctx.db.fetch_all(
        "SELECT id FROM topups WHERE user_id = ? AND status = 'pending'", (user.id,)
    )
    assert pending == []


async def test_card_short_of_money_shows_what_is_missing_not_a_negative_balance(env):
    await env.credit(2, 5_000)
    u = env.user(2)
    await pick_service(u, *KR_FOLLOWERS)
    await u.wait_for("링크")
    await answer(u, "https://www.instagram.com/short", "수량")
    card = await answer(u, "1,000개", "주문 확인")
    assert "잔액: 5,000원" in card and "15,580원" in card and "부족" in card
    assert "→" not in card and "-15,580" not in card
    assert await env.balance(2) == 5_000
