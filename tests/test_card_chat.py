"""Card top-ups seen from the chat fronts: the customer's news, the admins' view."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import ConfigError, parse_config
from bot.jobs import run_outbox
from sandbox.toss import TEST_CLIENT_KEY, TEST_SECRET_KEY, TossServer, TossStandIn, serve_toss
from shop.cards import Settle
from tests.botenv import ShopEnv, running_shop
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
