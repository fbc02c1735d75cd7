"""``python -m bot demo``: the whole shop on this machine, no token, no panel account.

One process, one event loop: the panel simulator, the Bot API emulator (which also serves
the browser chat page), the fake Kakao Open Builder and Event API (the page's KakaoTalk
chat), the Toss Payments stand-in (card top-ups in a sandbox payment window) and the real
shop with both fronts, assembled exactly as ``run`` does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.routing import Mount

from bot.config import Config, parse_config
from bot.runtime import ShopRuntime, open_shop
from bot.serving import Serving, start_serving, stop_serving
from bot.web import LateApp, build_web_app
from sandbox.kakao import OpenBuilder
from sandbox.kakao_event_api import EventApi
from sandbox.kakao_web import KakaoPerson, kakao_routes
from sandbox.panel import PanelSimulator, RunningServer, SimOrder, serve_panel
from sandbox.telegram import BotApiEmulator, TelegramServer, serve_telegram
from sandbox.toss import TEST_CLIENT_KEY, TEST_SECRET_KEY, TossServer, TossStandIn, serve_toss
from sandbox.web import Person, chat_routes

log = logging.getLogger(__name__)

DEMO_TOKEN = "5550001:demo-token-not-a-secret"
PANEL_KEY = "demo-key"
CUSTOMER = Person(1001, "데모 고객", "customer")
ADMIN = Person(9001, "데모 관리자", "admin")
KAKAO_CUSTOMER = KakaoPerson("k1", "카카오 고객")
KAKAO_KEY = "demo-kakao-rest-key"  # the fake Event API's, not a secret
KAKAO_EVENT = "shop_news"
START_BALANCE = 50_000
STAGE_SECONDS = 6.0  # ~5 stages per order: the whole story fits in about half a minute


def demo_outcome(first_id: int):
    """Alternate Completed / Partial (1st, 3rd… complete; 2nd, 4th… partially refund)."""

    def outcome(order: SimOrder) -> str:
        return "Partial" if (order.id - first_id) % 2 == 1 else "Completed"

    return outcome


def demo_config(
    folder: Path,
    page_url: str,
    telegram_base_url: str,
    panel_url: str,
    kakao_bot: OpenBuilder,
    toss_url: str | None = None,
) -> Config:
    console = kakao_bot.console
    raw: dict[str, Any] = {
        "telegram": {"token": DEMO_TOKEN, "base_url": telegram_base_url, "admin_ids": [ADMIN.id]},
        # The shop's HTTP face is mounted under the demo page's own address.
        "web": {"public_url": page_url},
        "provider": {"url": panel_url, "key": PANEL_KEY, "timeout_seconds": 10},
        "storage": {"path": str(folder.resolve() / "shop.sqlite3")},
        "scheduler": {"poll_interval_seconds": 3, "notify_started": True},
        "topup": {"krw_per_star": 20, "bank_account": "데모은행 123-456-789 (예금주: 데모상점)"},
        # KakaoTalk: the fake Open Builder posts to the skill; news goes out by the fake
        # Event API, served by the demo page's server too.
        "kakao": {"enabled": True, "bot_id": console.bot_id, "router_block_id": console.router.id,
                  "event_api_url": page_url, "rest_api_key": KAKAO_KEY, "event_name": KAKAO_EVENT},
    }  # fmt: skip
    if toss_url:  # card top-up against the Toss stand-in: its SDK opens its sandbox window
        raw["card"] = {"client_key": TEST_CLIENT_KEY, "secret_key": TEST_SECRET_KEY,
                       "api_url": toss_url, "sdk_url": f"{toss_url}/v2/standard"}  # fmt: skip
    # environ={}: a real token or key in the environment must never leak into the demo.
    return parse_config(raw, environ={})


@dataclass
class DemoHandle:
    sim: PanelSimulator
    emu: BotApiEmulator
    panel_server: RunningServer
    web_server: TelegramServer
    runtime: ShopRuntime
    serving: Serving
    config: Config
    kakao: OpenBuilder
    toss: TossServer | None = None

    @property
    def app(self):  # the Telegram Application
        return self.serving.app

    @property
    def url(self) -> str:
        return self.web_server.url + "/"

    async def stop(self) -> None:
        # Release the bot's getUpdates and the pages' long polls first, so stopping is quick.
        self.emu.shutdown()
        await self.kakao.aclose()
        try:
            await stop_serving(self.serving)
        finally:
            await self.runtime.close()
            await self.web_server.stop()
            if self.toss is not None:
                await self.toss.stop()
            await self.panel_server.stop()


async def _seed(runtime: ShopRuntime) -> None:
    """Give the demo customer a starting balance through the real top-up path, once."""
    shop = runtime.shop
    await shop.users.ensure(ADMIN.id, None, ADMIN.name, "ko")
    user = await shop.users.ensure(CUSTOMER.id, None, CUSTOMER.name, "ko")
    if (await shop.users.account(user.id)).recent:
        return  # an existing demo database keeps its history
    topup = await shop.topups.request_bank(user.id, START_BALANCE, CUSTOMER.name)
    await shop.topups.approve(topup.id, ADMIN.id)


async def _seed_kakao(runtime: ShopRuntime, key: str) -> None:
    """The KakaoTalk customer starts with the same balance (and sees the notice of it)."""
    shop = runtime.shop
    user = await shop.users.ensure_front("kakao", key, "", "ko")
    if (await shop.users.account(user.id)).recent:
        return
    topup = await shop.topups.request_bank(user.id, START_BALANCE, KAKAO_CUSTOMER.name)
    await shop.topups.approve(topup.id, ADMIN.id)


async def start_demo(
    host: str = "127.0.0.1",
    port: int = 8080,
    folder: str = "demo-data",
    speed: float = STAGE_SECONDS,
    catalog: str = "small",
) -> DemoHandle:
    """Start every part; ``speed`` is the simulator's seconds per order stage (tests: less),
    ``catalog`` the simulated panel's catalog ("small" or "large", sandbox/catalog.py)."""
    data = Path(folder)
    data.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before serving
    # Panel ids grow with wall time, so a restarted demo never reuses an old order's id.
    first_id = int(time.time()) - 1_700_000_000
    sim = PanelSimulator(
        api_key=PANEL_KEY,
        auto_advance=True,
        speed=speed,
        balance="500",
        outcome=demo_outcome(first_id),
        first_order_id=first_id,
        catalog=catalog,
    )
    emu = BotApiEmulator(DEMO_TOKEN, bot_first_name="MASK24 데모", bot_username="mask24_demo_bot")
    people = [CUSTOMER, ADMIN]
    for p in people:
        emu.user(p.id, first_name=p.name, language_code="ko")
    kakao_bot = OpenBuilder(strict=False)  # the page shows Kakao's error bubble, no raise
    kakao_key = kakao_bot.user(KAKAO_CUSTOMER.name).key
    event_api = EventApi(kakao_bot, KAKAO_KEY)
    panel_server = await serve_panel(sim)
    toss = await serve_toss(TossStandIn())
    shop_face = LateApp()  # the shop's HTTP face, bound once the shop is open
    opened: list[ShopRuntime] = []

    async def console_link() -> str | None:
        """The page's console button: the demo admin, already signed in."""
        return await opened[0].shop.access.login_link(ADMIN.id, "web") if opened else None

    routes = [
        *chat_routes(emu, people, console_link),
        *kakao_routes(kakao_bot, [KAKAO_CUSTOMER]),
        *event_api.routes(),
        Mount("/", app=shop_face),
    ]
    try:
        web_server = await serve_telegram(emu, host, port, extra_routes=routes)
    except BaseException:
        await toss.stop()
        await panel_server.stop()
        raise
    toss.sim.webhook_url = f"{web_server.url}/pay/toss/webhook"
    try:
        config = demo_config(data, web_server.url, web_server.base_url, panel_server.url,
                             kakao_bot, toss.url)  # fmt: skip
        kakao_bot.skill_url = web_server.url + config.kakao.skill_path
        runtime = await open_shop(config)
    except BaseException:
        await kakao_bot.aclose()
        await web_server.stop()
        await toss.stop()
        await panel_server.stop()
        raise
    try:
        await _seed(runtime)
        await _seed_kakao(runtime, kakao_key)
        shop_face.app = build_web_app(config, runtime)
        opened.append(runtime)
        serving = await start_serving(config, runtime, web=False, poll_timeout=10)
    except BaseException:
        await kakao_bot.aclose()
        await runtime.close()
        await web_server.stop()
        await toss.stop()
        await panel_server.stop()
        raise
    return DemoHandle(sim, emu, panel_server, web_server, runtime, serving, config, kakao_bot,
                      toss)  # fmt: skip


def _banner(url: str, folder: str) -> str:
    return f"""
  ✅ 데모 상점이 실행 중이에요 / the demo shop is running:  {url}

  브라우저에서 위 주소를 열어 보세요 (텔레그램 토큰·패널 계정 필요 없음).
    1. '/start' 를 보내면 잔액 50,000원과 메뉴가 나와요.
    2. 🛒 주문하기 → 서비스 선택 → 링크·수량 입력 → 확인. 주문이 패널로 접수돼요.
    3. 몇십 초 안에 진행중 → 주문완료 (두 번째 주문은 부분완료 + 환불) 알림이 와요.
    4. 💳 잔액충전으로 입금 신청 후, 위쪽 스위치로 '데모 관리자'에게 가서 승인해 보세요.
    5. 오른쪽(좁은 화면에서는 아래) 카카오톡 채팅에서도 같은 상점에서 주문할 수 있어요.
    6. 💳 잔액충전 → 💳 카드결제: 샌드박스 결제창에서 결제해 보세요 (실제 카드 결제 없음).
    7. 위쪽 '🖥 관리자 콘솔'은 데모 관리자로 로그인된 웹 콘솔을 열어요 (대시보드·주문·충전).

  Open the address above in a browser (no Telegram token, no panel account needed).
    1. Send '/start': balance 50,000원 and the menu.
    2. 🛒 주문하기 → pick a service → link and quantity → confirm.
    3. Within a minute: in progress → completed (every 2nd order: partial + refund).
    4. Request a bank top-up, switch to the admin chat at the top and approve it.
    5. The KakaoTalk chat beside it (below on a narrow screen) orders from the same shop.
    6. 💳 잔액충전 → 💳 카드결제: pay in the sandbox card window (no real card is charged).
    7. '🖥 관리자 콘솔' at the top opens the owner's web console, signed in as the demo admin.

  Data: {folder}/shop.sqlite3  ·  Ctrl-C to stop.
"""


async def _serve(host: str, port: int, folder: str, speed: float, catalog: str) -> None:
    handle = await start_demo(host, port, folder, speed, catalog)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises instead
            loop.add_signal_handler(sig, stop.set)
    print(_banner(handle.url, folder), flush=True)
    try:
        await stop.wait()
    finally:
        print("stopping the demo…", flush=True)
        await handle.stop()


def run_demo(
    host: str = "127.0.0.1",
    port: int = 8080,
    folder: str = "demo-data",
    speed: float = STAGE_SECONDS,
    catalog: str = "small",
) -> int:
    try:
        asyncio.run(_serve(host, port, folder, speed, catalog))
    except OSError as exc:
        print(f"demo: cannot listen on {host}:{port} ({exc.strerror}); try --port", flush=True)
        return 1
    return 0
