"""A shop with its web console served over real HTTP on 127.0.0.1, for the console's tests.

The panel simulator answers the shop's panel calls; the console's routes are served by
uvicorn exactly as the shop's web face serves them. Helpers sign an admin in with a real
one-time link and make the data the pages show (top-ups, orders, a review order).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette

from fulfillment.client import PanelClient
from sandbox.panel import PanelSimulator, serve_panel
from sandbox.server import start_uvicorn, stop_uvicorn
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database
from web.console import PREFIX, routes

PANEL_KEY = "tEsT-pAnEl-SeCrEt-9f8e7d6c5b4a"
ADMIN = 9001
OTHER_ADMIN = 9002
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass
class ConsoleEnv:
    sim: PanelSimulator
    shop: Shop
    url: str  # the web face's base URL (no trailing slash)
    clock: ManualClock

    @property
    def console(self) -> str:
        return self.url + PREFIX

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, follow_redirects=False)

    async def sign_in(self, admin_id: int = ADMIN) -> httpx.AsyncClient:
        """A client holding a live session, opened with a real one-time link."""
        link = await self.shop.access.login_link(admin_id)
        assert link is not None
        client = self.client()
        r = await client.get(link)
        assert r.status_code == 200, r.text
        return client

    async def csrf(self, client: httpx.AsyncClient, path: str = "/console/") -> str:
        page = await client.get(path)
        assert page.status_code == 200, page.text
        found = CSRF_RE.search(page.text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def set_admins(self, *admin_ids: int) -> None:
        ctx = self.shop.ctx
        ctx.settings = dataclasses.replace(ctx.settings, admin_ids=admin_ids)

    async def customer(self, tg_id: int, name: str = "", balance: int = 0):
        user = await self.shop.users.ensure(tg_id, f"user{tg_id}", name or f"고객{tg_id}", "ko")
        if balance:
            topup = await self.shop.topups.request_bank(user.id, balance, name or f"입금{tg_id}")
            await self.shop.topups.approve(topup.id, ADMIN)
        return await self.shop.users.get(user.id)

    async def order(self, user_id: int, link: str, quantity: int = 100):
        svc = next(s for s in await self.shop.catalog.all() if s.panel_id == "101")
        quote = await self.shop.orders.quote(
            user_id, svc.id, OrderInput(link=link, quantity=quantity)
        )
        return await self.shop.orders.place(user_id, quote.token)

    async def review_order(self, user_id: int, link: str):
        """An order the panel gave no clear answer for (a 503 page): it waits for a human."""
        self.sim.set_quirk("html_503", times=1)
        placed = await self.order(user_id, link)
        assert placed.outcome == PlaceOutcome.NEEDS_REVIEW, placed
        return placed.order


@asynccontextmanager
async def console_shop(
    folder: Path, *, admin_ids: tuple[int, ...] = (ADMIN, OTHER_ADMIN), https: bool = False
) -> AsyncIterator[ConsoleEnv]:
    sim = PanelSimulator(api_key=PANEL_KEY, auto_advance=False)
    panel_srv = await serve_panel(sim)
    client = PanelClient(panel_srv.url, PANEL_KEY, timeout=5)
    db = await Database(folder / "shop.sqlite3").open()
    clock = ManualClock()
    shop = Shop(ShopContext(db=db, panel=client, settings=ShopSettings(admin_ids=admin_ids),
                            clock=clock))  # fmt: skip
    holder: dict[str, str] = {}
    app = Starlette(routes=[])
    server, port, task = await start_uvicorn(app)
    url = f"http://127.0.0.1:{port}"
    # https=True pretends a TLS proxy is in front: Secure, __Host- cookies.
    public = "https://console.example" if https else url
    holder["url"] = url
    app.router.routes.extend(routes(shop, public_url=public, session_idle_minutes=60))
    shop.ctx.settings = dataclasses.replace(shop.ctx.settings, console_url=public + PREFIX)
    try:
        await shop.catalog.sync()
        yield ConsoleEnv(sim, shop, url, clock)
    finally:
        await stop_uvicorn(server, task)
        await client.aclose()
        await db.close()
        await panel_srv.stop()
