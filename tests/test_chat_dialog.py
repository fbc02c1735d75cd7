"""The shared conversation driven straight through ``Dialog`` (no chat app): what any front
gets — fixed pages split to fit a small front, the card's first question, typed answers to
button steps, idle flows ending at the next turn, old and forged taps."""

from __future__ import annotations

import pytest

from chat.dialog import IDLE_SECONDS, Dialog
from chat.screens import TELEGRAM, Capabilities, problems
from chat.turns import Command, Media, Reply, Tap, Text, Turn
from sandbox.telegram import parse_html

SMALL = Capabilities("kakao", text_limit=1000, label_limit=14, max_choices=10, row_width=2,
                     page_size=5, edits=False)  # fmt: skip


class Customer:
    """One customer's turns, the state carried from reply to reply like a front does."""

    def __init__(self, dialog: Dialog, user, caps: Capabilities = TELEGRAM, lang: str = "ko"):
        self.dialog, self.user, self.caps, self.lang = dialog, user, caps, lang
        self.state: dict = {}

    async def __call__(self, event) -> Reply:
        reply = await self.dialog.handle(Turn(self.user, self.lang, self.caps, self.state, event))
        for screen in reply.screens:
            assert problems(screen, self.caps) == [], screen.kind
            parse_html(screen.text)
        self.state = reply.state
        return reply


@pytest.fixture
async def customer(env):
    user = await env.shop.users.ensure(4242, None, "고객", "ko")
    return Customer(Dialog(env.shop), user)


def kinds(reply: Reply) -> list[str]:
    return [s.kind for s in reply.screens]


async def service_id(env, panel_id: str) -> int:
    return next(s.id for s in await env.shop.catalog.all() if s.panel_id == panel_id)


@pytest.mark.parametrize("name", ["start", "help", "balance", "orders", "topup", "order"])
async def test_every_page_fits_a_small_front(env, name) -> None:
    user = await env.shop.users.ensure(4243, None, "고객" * 40, "ko")
    c = Customer(Dialog(env.shop), user, SMALL)
    await c(Command(name))
    for label in ("❓ 자주 묻는 질문", "📜 이용약관", "☎️ 고객센터"):
        reply = await c(Text(label))
        assert reply.screens  # the FAQ is split over several screens on a small front


async def test_faq_is_split_between_paragraphs_on_a_small_front(env) -> None:
    user = await env.shop.users.ensure(4244, None, "x", "en")  # the English FAQ is longer
    reply = await Customer(Dialog(env.shop), user, SMALL, "en")(Text("❓ FAQ"))
    assert len(reply.screens) >= 2 and all(s.kind == "faq" for s in reply.screens)
    big = await Customer(Dialog(env.shop), user, lang="en")(Text("❓ FAQ"))
    assert len(big.screens) == 1  # Telegram takes it in one message


async def test_card_takes_a_pasted_link_or_a_search(env, customer) -> None:
    sid = await service_id(env, "101")
    card = await customer(Tap(f"c:s:{sid}"))
    assert kinds(card) == ["order.detail"] and "링크" in card.screens[0].text
    reply = await customer(Text("좋아요"))  # not a link: a search from the card
    assert kinds(reply) == ["catalog.search"]
    await customer(Tap(f"c:s:{sid}"))
    reply = await customer(Text("그냥 글자"))  # neither a link nor a match: why, and again
    assert kinds(reply) == ["order.error", "order.link"]
    reply = await customer(Text("instagram.com/pasted"))
    assert kinds(reply) == ["order.quantity"]
    assert customer.state["order"]["link"] == "https://instagram.com/pasted"


async def test_subscription_card_takes_a_username(env, customer) -> None:
    await customer(Tap(f"c:s:{await service_id(env, '601')}"))
    reply = await customer(Text("@My.Shop"))
    assert kinds(reply) == ["order.sub_min"] and customer.state["order"]["username"] == "my.shop"


async def test_button_steps_take_typed_answers(env, customer) -> None:
    await customer(Tap(f"o:buy:{await service_id(env, '102')}"))  # drip-feed capable
    await customer(Text("https://instagram.com/drip"))
    assert kinds(await customer(Text("1000"))) == ["order.drip"]
    assert kinds(await customer(Text("글쎄요"))) == ["order.use_buttons", "order.drip"]
    assert kinds(await customer(Text("네"))) == ["order.runs"]
    await customer(Text("3"))
    assert kinds(await customer(Text("30분")))[-1] == "order.card"  # (the terms before it)
    assert customer.state["order"]["interval"] == 30


async def test_minute_choices_fit_a_small_front_and_the_rest_can_be_typed(env) -> None:
    """Eleven drip-feed intervals and back/cancel do not fit ten quick replies: the front
    shows what fits and the question names the rest, which typing accepts."""
    user = await env.shop.users.ensure(4245, None, "고객", "ko")
    c = Customer(Dialog(env.shop), user, SMALL)  # asserts every screen fits SMALL
    await c(Tap(f"o:buy:{await service_id(env, '102')}"))
    await c(Text("https://instagram.com/drip-small"))
    await c(Text("1000"))
    await c(Text("네"))
    reply = await c(Text("3"))
    [ask] = reply.screens
    assert ask.kind == "order.interval" and len(ask.choices) == 10
    assert "1440분" not in [ch.label for ch in ask.choices] and "1440" in ask.text
    assert kinds(await c(Text("1440")))[-1] == "order.card"
    assert c.state["order"]["interval"] == 1440


async def test_idle_flow_ends_at_the_next_turn(env, customer) -> None:
    await customer(Tap(f"o:buy:{await service_id(env, '101')}"))
    env.clock.advance(seconds=IDLE_SECONDS + 1)
    reply = await customer(Text("https://instagram.com/late"))
    assert kinds(reply) == ["timeout", "unknown"]  # said why the link is not taken
    assert "flow" not in customer.state
    await customer(Tap(f"o:buy:{await service_id(env, '101')}"))
    env.clock.advance(seconds=IDLE_SECONDS + 1)
    reply = await customer(Tap("c:p:0"))  # a tap carries what it needs: no notice
    assert kinds(reply) == ["catalog.platforms"]


async def test_old_forged_and_unknown_taps(env, customer) -> None:
    for data in ("c:s:999999", "c:C:deadbeef:3", "c:P:nope:0", "c:q:5", "o:drip:1",
                 "o:ok:forged", "h:o:1", "t:wd:77", "zz", "c:d:abc:1", "m:nope"):  # fmt: skip
        reply = await customer(Tap(data))
        assert reply.screens or reply.toast, data
    assert env.sim.orders_created() == 0


async def test_a_photo_in_the_order_flow_is_asked_again(env, customer) -> None:
    await customer(Tap(f"o:buy:{await service_id(env, '101')}"))
    reply = await customer(Media("photo", "file-1"))
    assert kinds(reply) == ["order.error", "order.link"]


async def test_english_platform_names(env) -> None:
    user = await env.shop.users.ensure(4245, None, "x", "en")
    reply = await Customer(Dialog(env.shop), user, lang="en")(Command("order"))
    labels = [c.label for c in reply.screens[0].choices]
    assert any(label.startswith("📸 Instagram") for label in labels)
