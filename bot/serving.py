"""Serving the shop: the fronts, the HTTP face and the scheduler around one ShopRuntime.

Used the same way by ``python -m bot run``, the demo and the tests: ``start_serving``
runs start-up recovery before any front answers, then starts Telegram (when a token is
configured), the HTTP face (when a feature needs it) and the jobs; ``stop_serving`` stops
them in reverse order. The runtime itself (database, panel client) is closed by its owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.app import attach_telegram, build_application, start_bot, stop_bot
from bot.config import Config
from bot.jobs import Jobs, run_startup
from bot.runtime import ShopRuntime
from bot.web import WebFace, start_web

log = logging.getLogger(__name__)


@dataclass
class Serving:
    runtime: ShopRuntime
    web: WebFace | None = None
    jobs: Jobs | None = None

    @property
    def app(self):  # the Telegram Application, when Telegram is served
        return self.runtime.telegram


async def start_serving(
    config: Config,
    rt: ShopRuntime,
    *,
    startup: bool = True,
    schedule: bool = True,
    web: bool | None = None,
    web_port: int | None = None,
    poll_timeout: int = 30,
) -> Serving:
    """Start everything ``config`` asks for; on failure, stop what already started."""
    serving = Serving(rt)
    try:
        if startup:
            await run_startup(rt)
        if config.telegram_enabled:
            app = build_application(config, rt.shop)
            attach_telegram(rt, app)
            await start_bot(app, poll_timeout=poll_timeout)
        if config.web_enabled if web is None else web:
            serving.web = await start_web(config, rt, port=web_port)
        if schedule:
            serving.jobs = Jobs(rt, config)
            serving.jobs.start()
    except BaseException:
        await stop_serving(serving)
        raise
    return serving


async def stop_serving(serving: Serving) -> None:
    if serving.jobs is not None:
        serving.jobs.shutdown()
    if serving.web is not None:
        await serving.web.stop()
    kakao = serving.runtime.senders.pop("kakao", None)
    if kakao is not None:
        await kakao.aclose()  # type: ignore[attr-defined]  # turns and deferred submits end
    app = serving.runtime.telegram
    if app is not None:
        await stop_bot(app)
        serving.runtime.telegram = None
        serving.runtime.senders.pop("telegram", None)
