"""Card top-ups from the chat fronts: 💳 잔액충전 → 💳 카드결제 → an amount → a button to
the one-time pay page (Telegram URL button, Kakao webLink); the customer's news; the
admins' view; the [card] config rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.config import ConfigError, parse_config
from bot.jobs import run_outbox
from sandbox.toss import TEST_CLIENT_KEY, TEST_SECRET_KEY, TossServer, TossStandIn, serve_toss
from shop.cards import Checkout, Settle
from tests.botenv import ShopEnv, running_shop
from tests.kakaoenv import running_kakao
from tests.tossenv import pay


@pytest.fixture
async def toss() -> AsyncIterator[TossServer]:
    server = await serve_toss(TossStandIn())
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def card_shop(tmp_path, toss: TossServer) -> AsyncIterator[ShopEnv]:
    card = {"client_key": TEST_CLIENT_KEY, "secret_key": TEST_SECRET_KEY, "api_url": toss.url,
            "sdk_url": toss.sdk_url, "min_amount": 1000}  # fmt: skip
    async with running_shop(tmp_path, card=card, web={"public_url": "https://shop.example"}) as e:
        yield e


def _on_web_face(env: ShopEnv, url: str) -> str:
    """The pay URL names the public address; this test's HTTP face listens elsewhere."""
    assert env.serving.web is not None and url.startswith("https://shop.example/pay/")
    return env.serving.web.url + url.removeprefix("https://shop.example")


async def test_card_choice_amount_button_page_window_and_news(card_shop, toss):
    env = card_shop
    u = env.user(62)
    await u.send_text("💳 잔액충전")
    await u.wait_for("충전 방법을 선택해 주세요")
    await u.press("💳 카드결제")
    await u.wait_for(r"카드로 충전하실 금액.*1,000원 ~ 2,000,000원")
    await u.send_text("500")
    await u.wait_for("1,000원 ~ 2,000,000원")  # out of range: asked again
    await u.send_text("2만원")
    offer = await u.wait_for("카드 결제를 준비했어요")
    [[button]] = offer.reply_markup["inline_keyboard"]
    assert button["text"] == "💳 20,000원 결제하기" and "20000" not in button["url"]
    user = await env.shop.users.by_telegram(62)
    c = await env.runtime.db.fetch_one("SELECT * FROM checkouts WHERE user_id = ?", (user.id,))
    assert button["url"] == f"https://shop.example/pay/{c['token']}" and c["amount"] == 20_000
    success, fail = env.shop.cards.return_urls(Checkout.from_row(c))
    async with httpx.AsyncClient() as browser:
        page = await browser.get(_on_web_face(env, button["url"]))
        assert page.status_code == 200 and "20,000원" in page.text
        returned = await pay(toss.url, c["order_id"], 20_000, success_url=success, fail_url=fail)
        assert f"t={c['token']}" in returned.url
        back = await browser.get(_on_web_face(env, returned.url))
    assert "충전 완료" in back.text and "현재 잔액: 20,000원" in back.text
    await run_outbox(env.runtime)
    await u.wait_for("20,000원 충전이 완료됐어요! 현재 잔액은 20,000원이에요")
    assert await env.balance(62) == 20_000


async def test_card_is_offered_only_when_configured(tmp_path):
    async with running_shop(tmp_path, card={"client_key": TEST_CLIENT_KEY}) as env:
        u = env.user(63)
        await u.send_text("💳 잔액충전")
        menu = await u.wait_for("충전 방법을 선택해 주세요")
        assert "💳 카드결제" not in menu.button_labels()
        await u.press("🏦 무통장입금")  # a stale 카드결제 tap would go back to this menu
        await u.wait_for("충전하실 금액")


async def test_kakao_customer_gets_a_weblink_to_the_pay_page(tmp_path, toss):
    card = {"client_key": TEST_CLIENT_KEY, "secret_key": TEST_SECRET_KEY, "api_url": toss.url,
            "sdk_url": toss.sdk_url}  # fmt: skip
    async with running_kakao(tmp_path, card=card, web={"public_url": "https://shop.example"}) as k:
        u = k.user()
        await u.enter()
        menu = await u.tap("💳 잔액충전")
        assert "💳 카드결제" in menu.labels
        await u.tap("💳 카드결제")
        offer = await u.say("30000")
        assert "카드 결제를 준비했어요" in offer.text
        links = [c for c in offer.controls + offer.quick_replies if c.url]
        assert len(links) == 1 and links[0].action == "webLink"
        assert links[0].url.startswith("https://shop.example/pay/")
        assert not k.ob.violations


async def test_paid_card_top_up_tells_the_customer_and_shows_in_the_admin_menu(card_shop, toss):
    env = card_shop
    customer = env.user(61, username="card_buyer")
    user = await env.shop.users.ensure(61, "card_buyer", "고객61", "ko")
    c = await env.shop.cards.create_checkout(user.id, 15_000)
    q = (await pay(toss.url, c.order_id, 15_000)).query
    result = await env.shop.cards.settle(c.order_id, q["paymentKey"], q["amount"], c.token)
    assert result.outcome is Settle.CREDITED
    await run_outbox(env.runtime)
    await customer.wait_for("15,000원 충전이 완료됐어요! 현재 잔액은 15,000원이에요", after=0)

    admin = env.admin(0)
    await admin.send_command("/admin")
    await admin.wait_for("관리자 메뉴")
    await admin.press("💰 대기 중인 충전")
    shown = await admin.wait_for("최근 카드 충전")
    assert "15,000원 · 카드 · @card_buyer" in shown.text
    links = [e["url"] for e in shown.entities if e["type"] == "text_link"]
    assert len(links) == 1 and links[0].startswith("https://dashboard.tosspayments.com/receipt/")


def test_card_config_needs_one_window_key_set_and_a_public_address():
    base = {"provider": {"url": "http://panel.test/api/v2", "key": "k"}}
    keys = {"client_key": TEST_CLIENT_KEY, "secret_key": TEST_SECRET_KEY}
    assert not parse_config({**base, "card": keys}, environ={}).card_enabled  # no public_url
    on = parse_config({**base, "card": keys, "web": {"public_url": "https://s.example"}},
                      environ={})  # fmt: skip
    assert on.card_enabled and TEST_SECRET_KEY in on.secrets()
    env = parse_config({**base, "card": {"client_key": TEST_CLIENT_KEY},
                        "web": {"public_url": "https://s.example"}},
                       environ={"SHOP_TOSS_SECRET_KEY": TEST_SECRET_KEY})  # fmt: skip
    assert env.card_enabled
    for card, words in (
        ({"client_key": "test_gck_widget", "secret_key": TEST_SECRET_KEY}, "payment-window"),
        ({"client_key": TEST_CLIENT_KEY, "secret_key": "live_sk_SeCrEt"}, "one set"),
        ({"client_key": TEST_CLIENT_KEY, "sdk_url": "javascript:alert(1)"}, "sdk_url"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config({**base, "card": card}, environ={})
        assert "card" in str(err.value) and words in str(err.value)
        assert "SeCrEt" not in str(err.value)
