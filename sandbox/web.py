"""A browser chat page over the Bot API emulator (served by the emulator's own web stack).

The page acts as the emulator's fake users: what it sends becomes real updates for the bot.
It long-polls ``GET /api/chat/{id}?since=N`` on the emulator's change journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sandbox.telegram import BotApiEmulator, FakeUser, PaymentRejected

STATIC = Path(__file__).parent / "static"
LONG_POLL_SECONDS = 25.0


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    role: str  # customer | admin: only a label for the page's switch


def chat_state(emu: BotApiEmulator, user_id: int, since: int) -> dict[str, Any]:
    """The whole chat (small in a demo) plus callback answers newer than ``since``."""
    chat = emu.chat(user_id)
    toasts = [
        {"text": a.text, "alert": a.show_alert, "seq": a.seq}
        for a in emu.callback_answers
        if a.user_id == user_id and a.seq > since and a.text and since > 0
    ]
    return {
        "version": emu.version,
        "messages": [m.as_dict() for m in chat.transcript()],
        "keyboard": chat.keyboard_rows(),
        "placeholder": (chat.keyboard or {}).get("input_field_placeholder"),
        "toasts": toasts,
    }


async def _wait_for_chat(emu: BotApiEmulator, user_id: int, since: int) -> None:
    """Return once something happened in this chat after ``since``, or after the timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LONG_POLL_SECONDS
    cursor = since
    while True:
        if any(e.chat_id == user_id for e in emu.events_since(cursor)):
            return
        cursor = emu.version
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        if await emu.wait_changed(cursor, remaining) <= cursor:
            return  # timed out, or the emulator is shutting down


def chat_routes(
    emu: BotApiEmulator,
    people: list[Person],
    console_link: Callable[[], Awaitable[str | None]] | None = None,
) -> list[BaseRoute]:
    """Routes for ``serve_telegram(..., extra_routes=...)``; only ``people`` are served.
    ``console_link`` gives a fresh one-time login link to the shop's web console for the
    demo admin: the page's console button goes there (a demo on loopback only)."""
    known = {p.id: p for p in people}

    def fake_user(request: Request) -> FakeUser | None:
        raw = request.path_params["user_id"]
        return emu.user(raw, first_name=known[raw].name) if raw in known else None

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def list_people(request: Request) -> Response:
        return JSONResponse([{"id": p.id, "name": p.name, "role": p.role} for p in people])

    async def get_chat(request: Request) -> Response:
        user = fake_user(request)
        if user is None:
            return JSONResponse({"error": "unknown user"}, status_code=404)
        try:
            since = max(0, int(request.query_params.get("since", "0")))
        except ValueError:
            return JSONResponse({"error": "since must be a number"}, status_code=400)
        if since >= emu.version:
            await _wait_for_chat(emu, user.id, since)
        return JSONResponse(chat_state(emu, user.id, since))

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    async def send(request: Request) -> Response:
        user = fake_user(request)
        if user is None:
            return JSONResponse({"error": "unknown user"}, status_code=404)
        text = str((await body(request)).get("text") or "").strip()
        if not text or len(text) > 4096:
            return JSONResponse({"error": "text must be 1-4096 characters"}, status_code=400)
        msg = await user.send_text(text)
        return JSONResponse({"ok": True, "message_id": msg.message_id})

    async def press(request: Request) -> Response:
        user = fake_user(request)
        if user is None:
            return JSONResponse({"error": "unknown user"}, status_code=404)
        data = await body(request)
        try:
            query_id = await user.press_data(str(data["data"]), int(data["message_id"]))
        except (KeyError, ValueError, TypeError):
            return JSONResponse({"error": "need message_id and data"}, status_code=400)
        except LookupError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        return JSONResponse({"ok": True, "query_id": query_id})

    async def pay(request: Request) -> Response:
        user = fake_user(request)
        if user is None:
            return JSONResponse({"error": "unknown user"}, status_code=404)
        try:
            charge_id = await user.pay(int((await body(request))["message_id"]))
        except (KeyError, ValueError, TypeError):
            return JSONResponse({"error": "need message_id"}, status_code=400)
        except LookupError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except PaymentRejected as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=409)
        except TimeoutError:
            return JSONResponse({"ok": False, "error": "the bot did not answer"}, status_code=504)
        return JSONResponse({"ok": True, "charge_id": charge_id})

    async def console(request: Request) -> Response:
        link = await console_link() if console_link is not None else None
        if link is None:
            return JSONResponse({"error": "the console is not running"}, status_code=503)
        return RedirectResponse(link, status_code=303)

    return [
        Route("/", index),
        Route("/demo/console", console),
        Route("/api/people", list_people),
        Route("/api/chat/{user_id:int}", get_chat),
        Route("/api/chat/{user_id:int}/send", send, methods=["POST"]),
        Route("/api/chat/{user_id:int}/press", press, methods=["POST"]),
        Route("/api/chat/{user_id:int}/pay", pay, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
