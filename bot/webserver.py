"""Run a uvicorn server inside the current event loop (the shop's web face, the stand-ins).

Small on purpose: the shop's HTTP face (bot/web.py) and every stand-in in sandbox/ use it,
so `python -m bot run`, the demo and the tests serve HTTP the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host process and stops as
    soon as it is told to (the stock main loop polls every 0.1 s)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers once
        await self._stop.wait()

    def request_stop(self) -> None:
        self.should_exit = True
        self._stop.set()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted
    # sockets whose proto says TCP, and without it every answer waits ~40 ms (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


async def start_uvicorn(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0
) -> tuple[EmbeddedServer, int, asyncio.Task[None]]:
    """Start ``app``; ``port=0`` picks a free port. Returns (server, port, serve task)."""
    sock = _bind(host, port)  # bound here so the real port is known before serving
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,  # never reconfigure the host's logging
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not server.ready.is_set():
        ready.cancel()
        sock.close()
        await task  # re-raises the startup error
        raise RuntimeError(f"uvicorn did not start on {host}:{port}")
    return server, actual_port, task


async def stop_uvicorn(
    server: EmbeddedServer, task: asyncio.Task[None], grace: float = 5.0
) -> None:
    server.request_stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        server.force_exit = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
