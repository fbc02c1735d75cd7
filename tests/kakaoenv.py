"""A whole shop with its KakaoTalk front for tests: the Telegram test shop (tests/botenv.py)
plus the fake Open Builder posting to the real skill route, and the fake Event API.

Everything talks real HTTP on 127.0.0.1. Admins stay on Telegram (``env.admin()``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kakao.front import KakaoFront
from sandbox.kakao import KakaoUser, OpenBuilder, Turn
from sandbox.kakao_event_api import EventApi, serve_kakao
from shop.models import User
from tests.botenv import ADMIN_IDS, ShopEnv, running_shop

REST_KEY = "kakao-REST-key-TeSt-5d4c3b2a"  # distinctive, so leak checks can grep for it
EVENT = "shop_news"


@dataclass
class KakaoEnv:
    env: ShopEnv
    ob: OpenBuilder
    api: EventApi

    @property
    def shop(self):
        return self.env.shop

    @property
    def front(self) -> KakaoFront:
        front = self.env.runtime.senders["kakao"]
        assert isinstance(front, KakaoFront)
        return front

    def user(self, name: str = "카카오고객", **kw: Any) -> KakaoUser:
        return self.ob.user(name, **kw)

    async def customer(self, u: KakaoUser) -> User:
        found = await self.shop.users.by_front("kakao", u.key)
        assert found is not None, f"{u.name} never talked to the shop"
        return found

    async def credit(self, u: KakaoUser, amount: int) -> int:
        """Balance through the real top-up path (request + admin approval)."""
        user = await self.shop.users.ensure_front("kakao", u.key, "", "ko")
        topup = await self.shop.topups.request_bank(user.id, amount, f"입금{u.name}")
        result = await self.shop.topups.approve(topup.id, ADMIN_IDS[0])
        assert result.balance is not None
        await self.front.news.take_for(user.id)  # the approval notice is not under test here
        return result.balance

    async def balance(self, u: KakaoUser) -> int:
        return (await self.customer(u)).balance

    async def service_no(self, panel_id: str) -> str:
        """How a customer names a service when typing: "#<shop id>" (chat's search)."""
        found = next(s for s in await self.shop.catalog.all() if s.panel_id == panel_id)
        return f"#{found.id}"

    async def to_service(self, u: KakaoUser, panel_id: str) -> Turn:
        """From anywhere to the service's card: 🛒 주문하기, then its number typed."""
        await u.say("메뉴")
        await u.tap("🛒 주문하기")
        card = await u.say(await self.service_no(panel_id))
        assert "🛒 주문하기" in card.labels, card.text
        return card


@asynccontextmanager
async def running_kakao(
    folder: Path,
    *,
    event_api: bool = False,
    router: bool = True,
    ob: OpenBuilder | None = None,
    **overrides: Any,
) -> AsyncIterator[KakaoEnv]:
    """``event_api``: news is pushed through the fake Event API (else: at the next message).
    ``router``: controls are block actions to the router block (else message actions).
    ``ob``: the customers' side from an earlier run (a restart of the shop)."""
    own = ob is None
    ob = ob or OpenBuilder()
    api = EventApi(ob, REST_KEY)
    server = await serve_kakao(api)
    kakao: dict[str, Any] = {"enabled": True, "bot_id": ob.console.bot_id}
    if router:
        kakao["router_block_id"] = ob.console.router.id
    if event_api:
        kakao.update(event_api_url=server.url, rest_api_key=REST_KEY, event_name=EVENT)
    kakao.update(overrides.pop("kakao", {}))
    try:
        async with running_shop(folder, kakao=kakao, **overrides) as env:
            assert env.serving.web is not None
            ob.skill_url = env.serving.web.url + env.config.kakao.skill_path
            yield KakaoEnv(env, ob, api)
    finally:
        if own:
            await ob.aclose()
        await server.stop()
