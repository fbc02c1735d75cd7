"""The shared conversation's menus (chat/browse.py) driven straight through ``Dialog``:
every level, page, card and description page of the large catalog fits each front's
limits; search, the card that takes a pasted link, panel HTML made safe."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chat import htmltext
from chat.dialog import Dialog
from chat.screens import Capabilities, Screen, problems
from chat.turns import Command, Reply, Tap, Text, Turn
from fulfillment.client import PanelClient
from sandbox.panel import PanelSimulator, serve_panel
from sandbox.telegram import parse_html
from shop.catalog_menu import platform_of
from shop.context import ShopContext
from shop.models import User
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

KEY = "chat-menus-key"
# A front as small as Kakao's: 1,000-character texts, 14-character labels, 10 quick replies.
SMALL = Capabilities("kakao", text_limit=1000, label_limit=14, max_choices=10, row_width=2,
                     page_size=5)  # fmt: skip


@pytest.fixture
async def large_shop(tmp_path: Path) -> AsyncIterator[Shop]:
    sim = PanelSimulator(api_key=KEY, catalog="large", auto_advance=False)
    server = await serve_panel(sim)
    client = PanelClient(server.url, KEY, timeout=10)
    try:
        async with Database(tmp_path / "shop.sqlite3") as db:
            shop = Shop(ShopContext(db=db, panel=client, settings=ShopSettings()))
            await shop.catalog.sync()
            yield shop
    finally:
        await client.aclose()
        await server.stop()


def check(screen: Screen, caps: Capabilities) -> None:
    assert problems(screen, caps) == [], (screen.kind, screen.text[:200])
    parse_html(screen.text)  # Telegram would refuse invalid HTML ("can't parse entities")


class Walker:
    def __init__(self, dialog: Dialog, user: User, caps: Capabilities) -> None:
        self.dialog, self.user, self.caps = dialog, user, caps
        self.screens = 0
        self.kinds: set[str] = set()

    async def turn(self, event: object, state: dict) -> Reply:
        reply = await self.dialog.handle(Turn(self.user, "ko", self.caps, state, event))
        for screen in reply.screens:
            check(screen, self.caps)
            self.screens += 1
            self.kinds.add(screen.kind)
        return reply

    async def crawl(
        self, start: Reply, *, prefix: str = "c:", keep: Callable[[str], bool] = lambda d: True
    ) -> None:
        """Tap every navigation choice reachable from ``start``, once each."""
        seen: set[str] = set()
        todo = deque([(start, c.data) for s in start.screens for c in s.choices])
        while todo:
            parent, data = todo.popleft()
            if data is None or not data.startswith(prefix) or data in seen or not keep(data):
                continue
            seen.add(data)
            reply = await self.turn(Tap(data), parent.state)
            todo.extend((reply, c.data) for s in reply.screens for c in s.choices)


async def test_every_level_page_card_and_description_fits(large_shop: Shop) -> None:
    """On a front as small as Kakao's (Telegram's own walk, through the bot and the
    emulator, is in test_menus_telegram.py): every platform, category and service page,
    every card, the first description page of every service and every page of the
    longest descriptions."""
    shop = large_shop
    caps = SMALL
    user = await shop.users.ensure(1, None, "고객" * 40, "ko")
    walker = Walker(Dialog(shop), user, caps)
    start = await walker.turn(Command("order"), {})
    assert start.screens[0].kind == "catalog.platforms"
    sellable = await shop.catalog.sellable()
    longest = {str(s.id) for s in sorted(sellable, key=lambda s: -len(s.description or ""))[:10]}

    def keep(data: str) -> bool:
        parts = data.split(":")
        return parts[1] != "d" or parts[3] == "0" or parts[2] in longest

    await walker.crawl(start, keep=keep)
    menu = await shop.catalog.menu()
    assert len(menu.platforms) >= 20
    pages = sum(-(-len(c.services) // (caps.page_size)) for p in menu.platforms
                for c in p.categories)  # fmt: skip
    # every card, every list page, and the first page of each description
    assert walker.screens > len(sellable) + pages
    assert {"catalog.platforms", "catalog.categories", "catalog.services", "order.detail",
            "catalog.description"} <= walker.kinds  # fmt: skip
    # searches: words in either language, a number, nothing, markup typed by a customer
    for query in ("팔로워", "youtube views", "인스타 좋아요", "<b>Views</b> & more"):
        reply = await walker.turn(Text(query), start.state)
        assert reply.screens[0].kind == "catalog.search", query
        await walker.crawl(reply, prefix="c:q:")
    some = sellable[len(sellable) // 2]
    reply = await walker.turn(Text(f"#{some.id}"), start.state)
    assert reply.screens[0].kind == "order.detail" and f"#{some.id}" in reply.screens[0].text
    reply = await walker.turn(Text("<i>없는상품zz</i>"), start.state)
    assert reply.screens[0].kind == "catalog.none"
    assert "&lt;i&gt;" in reply.screens[0].text  # echoed, escaped


async def test_youtube_views_finds_korean_named_services(large_shop: Shop) -> None:
    menu = await large_shop.catalog.menu()
    found = menu.search("youtube views")
    assert found and all(menu.category_of(s.id).platform == "yt" for s in found)
    assert menu.search("유튜브 조회수")[:5] == found[:5] or menu.search("유튜브 조회수")


def test_platforms_read_from_names() -> None:
    assert platform_of("인스타그램 한국인 팔로워") == "ig"
    assert platform_of("YouTube Views | Non Drop") == "yt"
    assert platform_of("🎵 TikTok Likes [Real]") == "tt"
    assert platform_of("Twitter Retweets") == "x"
    assert platform_of("Big instagrammer bundle") is None  # words, not substrings
    assert platform_of("🔥 Best Sellers") is None
    assert platform_of("YouTube promo for your Instagram") == "yt"  # the first named wins


def test_panel_descriptions_become_safe_readable_text() -> None:
    raw = "Start: 0-1h<br>Speed: 10K/day<br/><b>Refill</b>&nbsp;30 days\r\n<i>unclosed <u>x"
    text = htmltext.from_panel(raw)
    assert text == "Start: 0-1h\nSpeed: 10K/day\nRefill 30 days\nunclosed x"
    assert htmltext.from_panel("a < b & c > d") == "a < b & c > d"
    assert htmltext.from_panel(None) == ""


def test_cut_keeps_html_valid_and_counts_like_telegram() -> None:
    source = "<b>" + "가" * 50 + "</b> <a href='https://x.y'>" + "😀" * 50 + "</a> &lt;tail&gt;"
    for limit in (10, 51, 60, 100, 130):
        out = htmltext.cut(source, limit)
        assert htmltext.visible_len(out) <= limit
        parse_html(out)
    assert htmltext.cut("short", 10) == "short"
    parts = htmltext.chunks("word " * 3000, 900)
    assert all(len(p) <= 900 for p in parts) and " ".join(parts).split() == ["word"] * 3000


def test_search_matches_latin_words_from_their_start_and_korean_anywhere() -> None:
    from decimal import Decimal

    from shop.catalog_menu import CatalogMenu
    from shop.models import Service, ServiceType

    def svc(sid: int, name: str, category: str) -> Service:
        return Service(sid, str(sid), name, category, ServiceType.DEFAULT, Decimal("1"), 10,
                       1000, False, False, False, None, True, False, None)  # fmt: skip

    menu = CatalogMenu([
        svc(1, "Google Maps Reviews [5★]", "Google Reviews"),
        svc(2, "YouTube Views | Non Drop", "YouTube Views"),
        svc(3, "인스타그램 한국인팔로워 [리필 30일]", "인스타그램 팔로워"),
        svc(4, "Instagram Preview Likes", "Instagram Likes"),
    ])  # fmt: skip
    assert [s.id for s in menu.search("views")] == [2]  # not "reviews"
    assert [s.id for s in menu.search("view")] == [2]  # a prefix: not "preview"
    assert [s.id for s in menu.search("reviews")] == [1]
    assert [s.id for s in menu.search("팔로워")] == [3]  # inside "한국인팔로워" too
    assert [s.id for s in menu.search("5★")] == [1]
