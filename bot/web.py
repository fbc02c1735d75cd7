"""The shop's HTTP face: one Starlette app carrying every web feature's routes, served by
uvicorn inside the serving process, on the same event loop as the Telegram application.

Each feature's routes live with the feature (kakao/, web/…) as a function returning
Starlette routes; this module only assembles them. It starts when a feature needs it
(``Config.web_enabled``): the Kakao skill, or a ``web.public_url`` for card checkout pages
and the owner's console. A reverse proxy (Caddy, nginx) terminates TLS in front of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Config
from bot.runtime import ShopRuntime, console_url
from bot.webserver import EmbeddedServer, start_uvicorn, stop_uvicorn
from web import console

log = logging.getLogger(__name__)

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Headers every answer of the shop carries, whatever feature produced it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def feature_routes(config: Config, rt: ShopRuntime) -> list[BaseRoute]:
    """Every enabled feature's routes. Add a feature here, behind its own switch."""
    routes: list[BaseRoute] = []
    if config.kakao.enabled:
        routes += kakao_routes(config, rt)
    if config.card_enabled:
        from web.pay import routes as pay_routes

        assert config.card.client_key is not None
        routes += pay_routes(rt.shop.cards, client_key=config.card.client_key,
                             sdk_url=config.card.sdk_url)  # fmt: skip
    if console_url(config):  # the owner's console: needs a public address for its links
        routes += console.routes(
            rt.shop, public_url=config.web.public_url,
            session_idle_minutes=config.web.session_idle_minutes,
        )  # fmt: skip
    return routes


def kakao_routes(config: Config, rt: ShopRuntime) -> list[BaseRoute]:
    """The KakaoTalk skill; its news deliverer joins the outbox job (``rt.senders``)."""
    from kakao.front import KakaoFront
    from kakao.routes import skill_routes

    k = config.kakao
    front = KakaoFront.create(
        rt.shop,
        bot_id=k.bot_id,
        router_block_id=k.router_block_id,
        event_api_url=k.event_api_url,
        rest_api_key=k.rest_api_key.get_secret_value() if k.rest_api_key else None,
        event_name=k.event_name,
    )
    rt.senders["kakao"] = front
    return skill_routes(front, k.skill_path)


def build_web_app(config: Config, rt: ShopRuntime) -> Starlette:
    async def healthz(request: Request) -> Response:
        ok = await rt.shop.healthy()
        body = {"ok": ok, "shop": config.shop.name, "fronts": sorted(rt.senders)}
        return JSONResponse(body, status_code=200 if ok else 503)

    app = Starlette(
        routes=[Route("/healthz", healthz), *feature_routes(config, rt)],
        middleware=[Middleware(SecurityHeaders)],
    )
    app.state.runtime = rt
    return app


@dataclass
class WebFace:
    server: EmbeddedServer
    task: Any
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        await stop_uvicorn(self.server, self.task)


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


async def start_web(config: Config, rt: ShopRuntime, port: int | None = None) -> WebFace:
    """Serve the HTTP face on ``web.listen`` (``port`` overrides it: 0 picks a free one)."""
    host, listen_port = parse_listen(config.web.listen)
    server, actual, task = await start_uvicorn(
        build_web_app(config, rt), host, listen_port if port is None else port
    )
    log.info("HTTP face on %s:%d (public address: %s)", host, actual, config.web.public_url)
    return WebFace(server, task, host, actual)


class LateApp:
    """An ASGI app bound after it is mounted (the demo serves its page before the shop
    exists, then mounts the shop's HTTP face under the same address)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            if scope["type"] == "http":
                await JSONResponse({"error": "starting"}, status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)
