"""The menus over the large catalog through the real bot and the Bot API emulator, which
refuses what Telegram refuses (4,096 characters, 100 buttons, 8 a row, 64-byte data,
~10 KB of markup): every menu level and page, search results, a sample of service cards
(the longest names and descriptions, every type) with their description pages, and long
customer input (a 2,000-character link, a long name) through order, card and history.
Nothing may be refused; the card takes a pasted link; a finished order can be repeated."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

import pytest

from sandbox.panel import PanelSimulator
from sandbox.telegram import FakeUser, RecordedMessage
from shop import statuses as st
from shop.models import OrderInput, Service, ServiceType
from tests.botenv import PANEL_KEY, ShopEnv, running_shop

NOT_MODIFIED = "message is not modified"


@pytest.fixture(scope="module")
def large_sim() -> PanelSimulator:
    return PanelSimulator(api_key=PANEL_KEY, catalog="large", auto_advance=False)


@pytest.fixture
async def large_env(tmp_path, large_sim):
    async with running_shop(tmp_path, sim=large_sim) as env:
        yield env


SENDS = {"sendmessage", "editmessagetext", "editmessagereplymarkup", "answercallbackquery"}


def refusals(env: ShopEnv) -> list[str]:
    """Every message the emulator refused, except edits that changed nothing."""
    out = []
    for call in env.emu.calls:
        if call.method.lower() in SENDS and not call.ok:
            text = str((call.response or {}).get("description", call.fault))
            if NOT_MODIFIED not in text:
                out.append(f"{call.method}: {text}")
    return out


class Presser:
    """Taps data on anchor messages, one per customer and all at once, and waits until the
    bot has edited each (or tried: an edit that changes nothing is refused as "not
    modified", and that is fine). Several customers keep the per-customer pacing
    (5 updates/s) from setting the pace of the walk."""

    def __init__(self, env: ShopEnv, anchors: list[tuple[FakeUser, RecordedMessage]]) -> None:
        self.env, self.anchors = env, anchors
        self.presses = 0

    async def press_all(self, datas: list[str]) -> list[RecordedMessage]:
        assert len(datas) <= len(self.anchors)
        edits = len(self.env.emu.calls_of("editMessageText"))
        pairs = list(zip(self.anchors, datas, strict=False))
        for (u, anchor), data in pairs:
            await u.press_data(data, anchor)
        await self.env.emu.wait_call("editMessageText", count=edits + len(pairs), timeout=10)
        self.presses += len(pairs)
        return [u.chat.by_id[anchor.message_id] for (u, anchor), _ in pairs]

    async def press(self, data: str) -> RecordedMessage:
        return (await self.press_all([data]))[0]


async def crawl(p: Presser, start: list[str], keep: Callable[[str], bool]) -> set[str]:
    seen: set[str] = set()
    todo = deque(start)
    while todo:
        batch: list[str] = []
        while todo and len(batch) < len(p.anchors):
            data = todo.popleft()
            if data not in seen and keep(data):
                seen.add(data)
                batch.append(data)
        for msg in await p.press_all(batch) if batch else []:
            todo.extend(b["callback_data"] for b in msg.buttons() if "callback_data" in b)
    return seen


def sample_cards(services: list[Service]) -> list[Service]:
    by_name = sorted(services, key=lambda s: -len(s.name))[:8]
    by_desc = sorted(services, key=lambda s: -len(s.description or ""))[:8]
    by_type = [next(s for s in services if s.type == t) for t in ServiceType
               if any(s.type == t for s in services)]  # fmt: skip
    edge = [s for s in services if s.min == s.max][:2] + [s for s in services if s.dripfeed][:2]
    return list({s.id: s for s in by_name + by_desc + by_type + edge}.values())


async def test_every_menu_page_and_sample_cards_pass_telegrams_limits(large_env) -> None:
    env = large_env
    anchors = []
    for n in range(16):
        u = env.user(5100 + n, first_name="아주긴이름" * 12)
        await u.send_text("🛒 주문하기")
        anchors.append((u, await u.wait_for("플랫폼")))
    p = Presser(env, anchors)
    start = [b["callback_data"] for b in anchors[0][1].buttons()]
    seen = await crawl(p, start, lambda d: d.startswith(("c:p:", "c:P:", "c:C:")))
    menu = await env.shop.catalog.menu()
    assert {f"c:P:{pl.key}:0" for pl in menu.platforms} <= seen | {"c:p:0"}
    assert {f"c:C:{c.key}:0" for pl in menu.platforms for c in pl.categories if
            len(pl.categories) > 1} <= seen  # fmt: skip
    # cards (with their full description pages) for the hardest services
    for service in sample_cards(await env.shop.catalog.sellable()):
        card = await p.press(f"c:s:{service.id}")
        assert f"#{service.id}" in card.text
        await crawl(p, [b["callback_data"] for b in card.buttons()],
                    lambda d: d.startswith("c:d:"))  # fmt: skip
    # search results, every page: every customer searches, the pages are shared out
    for query in ("팔로워", "youtube views"):
        searchers = []
        for u, _ in anchors:
            await u.send_text(query)  # typed at a menu step: a search
            searchers.append((u, await u.wait_for("검색 결과")))
        pages = int(re.search(r"\((\d+)/(\d+)\)", searchers[0][1].text).group(2))
        q = Presser(env, searchers)
        datas = [f"c:q:{n}" for n in range(1, pages)]
        for i in range(0, len(datas), len(searchers)):
            for msg in await q.press_all(datas[i : i + len(searchers)]):
                assert "검색 결과" in msg.text
    assert p.presses > 300
    assert refusals(env) == []


async def test_pasted_link_on_the_card_and_a_two_thousand_character_link(env) -> None:
    """The card asks the first question itself; a long link goes through card, order,
    history and "order the same again" without breaking a limit."""
    await env.credit(5002, 500_000)
    u = env.user(5002, first_name="<b>" + "이름" * 30)
    service = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    await u.send_text(f"#{service.id}")  # typed from home: the card, straight away
    await u.wait_for("추정치")
    link = "https://instagram.com/p/" + "a" * (2000 - len("https://instagram.com/p/"))
    await u.send_text(link)  # no 🛒 주문하기 tap: the card took it as the answer
    await u.wait_for("수량")
    await u.send_text("100")
    card = await u.wait_for("주문 확인")
    assert "aaaa" in card.text
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    [order] = (await env.shop.orders.history(
        (await env.shop.users.by_telegram(5002)).id, 0))[0]  # fmt: skip
    assert order.link == link
    env.sim.set_order(order.panel_order_id, status="Completed")
    env.clock.advance(hours=1)
    await env.shop.fulfilment.poll_once()
    got = await env.shop.orders.get_for_user(order.user_id, order.id)
    assert got.status == st.COMPLETED
    await u.send_text("📋 주문내역")
    await u.wait_for("주문내역")
    await u.press(f"#{order.id} 상세보기")
    detail = await u.wait_for(r"주문 #\d+")
    await u.press("🔁 같은 상품 다시 주문", detail)
    await u.wait_for("수량")  # the same service and link: straight to the quantity
    await u.send_text("200")
    again = await u.wait_for("주문 확인")
    assert "200개" in again.text and "aaaa" in again.text
    await u.press("✅ 확인")
    await u.wait_for("접수되었어요")
    assert env.sim.orders_created(link=link) == 2
    assert refusals(env) == []


async def test_repeat_while_unfinished_is_refused_with_the_reason(env) -> None:
    await env.credit(5003, 100_000)
    user = await env.shop.users.by_telegram(5003)
    service = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    job = OrderInput(link="https://instagram.com/dup", quantity=100)
    q = await env.shop.orders.quote(user.id, service.id, job)
    first = (await env.shop.orders.place(user.id, q.token)).order
    env.sim.set_order(first.panel_order_id, status="Completed")
    env.clock.advance(hours=1)
    await env.shop.fulfilment.poll_once()
    q2 = await env.shop.orders.quote(user.id, service.id, job)
    await env.shop.orders.place(user.id, q2.token)  # a second one, still running
    u = env.user(5003)
    await u.send_text("📋 주문내역")
    await u.wait_for("주문내역")
    await u.press(f"#{first.id} 상세보기")
    detail = await u.wait_for(r"주문 #\d+")
    await u.press("🔁 같은 상품 다시 주문", detail)
    await u.wait_for("수량")
    await u.send_text("100")
    await u.wait_for("주문 확인")
    await u.press("✅ 확인")
    await u.wait_for("진행 중인 주문이 있어요")
    assert env.sim.orders_created(link="https://instagram.com/dup") == 2
