"""A whole shop for tests: panel simulator + Bot API emulator + real SQLite + the real bot.

Everything talks real HTTP on 127.0.0.1. ``running_shop`` can be entered twice on the
same folder to test a restart.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.config import Config, parse_config
from bot.runtime import ShopRuntime, open_shop
from bot.serving import Serving, start_serving, stop_serving
from sandbox.panel import PanelSimulator, serve_panel
from sandbox.telegram import BotApiEmulator, FakeUser, serve_telegram
from shop.clock import ManualClock
from shop.shop import Shop

TOKEN = "424242:TeSt-BoT-ToKeN-qwerty"
PANEL_KEY = "tEsT-pAnEl-SeCrEt-9f8e7d6c5b4a"
ADMIN_IDS = (9001, 9002)


@dataclass
class ShopEnv:
    sim: PanelSimulator
    emu: BotApiEmulator
    runtime: ShopRuntime
    serving: Serving
    config: Config
    clock: ManualClock

    @property
    def app(self) -> Application:
        app = self.runtime.telegram
        assert app is not None
        return app

    @property
    def shop(self) -> Shop:
        return self.runtime.shop

    def user(self, user_id: int, language_code: str = "ko", **kw: Any) -> FakeUser:
        return self.emu.user(user_id, first_name=kw.pop("first_name", f"고객{user_id}"),
                             language_code=language_code, **kw)  # fmt: skip

    def admin(self, n: int = 0) -> FakeUser:
        return self.emu.user(ADMIN_IDS[n], first_name=f"관리자{n}", language_code="ko")

    async def credit(self, user_id: int, amount: int) -> int:
        """Give a customer balance through the real top-up path; returns the new balance."""
        user = await self.shop.users.ensure(user_id, None, f"고객{user_id}", "ko")
        topup = await self.shop.topups.request_bank(user.id, amount, f"입금{user_id}")
        result = await self.shop.topups.approve(topup.id, ADMIN_IDS[0])
        assert result.balance is not None
        return result.balance

    async def balance(self, user_id: int) -> int:
        user = await self.shop.users.by_telegram(user_id)
        return 0 if user is None else user.balance


def make_config(folder: Path, emu_url: str, panel_url: str, **overrides: Any) -> Config:
    raw: dict[str, Any] = {
        "telegram": {"token": TOKEN, "base_url": emu_url, "admin_ids": list(ADMIN_IDS)},
        "provider": {"url": panel_url, "key": PANEL_KEY, "timeout_seconds": 5},
        "storage": {"path": str(folder / "shop.sqlite3")},
        "topup": {"krw_per_star": 20},
    }
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    return parse_config(raw, environ={})


@asynccontextmanager
async def running_shop(
    folder: Path,
    *,
    sim: PanelSimulator | None = None,
    emu: BotApiEmulator | None = None,
    clock: ManualClock | None = None,
    schedule: bool = False,
    sync: bool = True,
    **config_overrides: Any,
) -> AsyncIterator[ShopEnv]:
    """Start the stand-ins (unless given, e.g. to survive a bot restart) and the bot.

    ``schedule`` runs the shop as ``python -m bot run`` does (start-up recovery, then the
    jobs); without it, tests call the job bodies themselves."""
    sim = sim or PanelSimulator(api_key=PANEL_KEY, auto_advance=False)
    emu = emu or BotApiEmulator(TOKEN)
    panel_srv = await serve_panel(sim)
    tg_srv = await serve_telegram(emu)
    clock = clock or ManualClock()
    config = make_config(folder, tg_srv.base_url, panel_srv.url, **config_overrides)
    runtime = await open_shop(config, clock=clock)
    try:
        if sync and not schedule:
            await runtime.shop.catalog.sync()
        # web_port=0: when a test enables the HTTP face, it gets a free port.
        serving = await start_serving(
            config, runtime, startup=schedule, schedule=schedule, poll_timeout=1, web_port=0
        )
        try:
            yield ShopEnv(sim, emu, runtime, serving, config, clock)
        finally:
            await stop_serving(serving)
    finally:
        await runtime.close()
        await tg_srv.stop()
        await panel_srv.stop()
        emu.resume()


async def order_to_card(u: FakeUser, link: str, quantity: str = "100") -> str:
    """Walk a Korean customer through the menus (platform → category → service) to the
    confirmation card for 100 Korean followers (service 101); returns the card's text."""
    await u.send_text("🛒 주문하기")
    await u.wait_for("플랫폼")
    await u.press(re.compile("^📸 인스타그램"))
    await u.wait_for("카테고리")
    await u.press("인스타그램 한국인 팔로워")
    await u.wait_for(r"\(1/\d+\)")
    await u.press(re.compile(r"^#\d+ 인스타 한국인 팔로워 \| 실제"))
    await u.wait_for("추정치")
    await u.press("🛒 주문하기")
    await u.wait_for("링크")
    await u.send_text(link)
    await u.wait_for("수량")
    await u.send_text(quantity)
    return (await u.wait_for("주문 확인")).text
