"""The demo page's KakaoTalk chat: a browser acts as a KakaoTalk customer of the shop.

What the page sends goes through the fake Open Builder (real SkillPayloads to the shop's
skill route, the same validation and deadline); what Kakao would show — answers, cards,
quick replies, Kakao's own error bubble, Event API messages — comes back from the fake's
transcript. The page long-polls ``GET /api/kakao/{who}/chat?since=N``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.kakao import Bubble, Control, KakaoUser, OpenBuilder, SkillError, controls_of

LONG_POLL_SECONDS = 25.0
MAX_TEXT = 1000


@dataclass(frozen=True)
class KakaoPerson:
    id: str  # short and URL-safe: "k1"
    name: str


def bubble_dict(bubble: Bubble) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": bubble.seq, "who": bubble.who, "text": bubble.text}
    if bubble.response is not None:
        out["template"] = bubble.response.get("template", {})
    return out


def kakao_routes(ob: OpenBuilder, people: list[KakaoPerson]) -> list[BaseRoute]:
    known = {p.id: p for p in people}

    def user_of(request: Request) -> KakaoUser | None:
        person = known.get(request.path_params["who"])
        return None if person is None else ob.user(person.name)

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    async def list_people(request: Request) -> Response:
        return JSONResponse([{"id": p.id, "name": p.name} for p in people])

    async def chat(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return JSONResponse({"error": "unknown customer"}, status_code=404)
        try:
            since = max(0, int(request.query_params.get("since", "0")))
        except ValueError:
            return JSONResponse({"error": "since must be a number"}, status_code=400)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LONG_POLL_SECONDS
        while not any(b.seq > since for b in user.transcript):
            left = deadline - loop.time()
            if left <= 0 or ob.closed:
                break
            await ob.wait_changed(ob.version, left)
        return JSONResponse({"version": ob.version,
                             "bubbles": [bubble_dict(b) for b in user.transcript]})  # fmt: skip

    async def run(turn: Any) -> Response:
        try:
            await turn
        except SkillError:
            pass  # the customer sees Kakao's error bubble in the transcript
        except AssertionError as exc:  # a control Kakao could not send (unknown block…)
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"ok": True})

    async def enter(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return JSONResponse({"error": "unknown customer"}, status_code=404)
        if user.turns:  # only a first visit opens the chat room (Event API news may be there)
            return JSONResponse({"ok": True})
        return await run(user.enter())

    async def say(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return JSONResponse({"error": "unknown customer"}, status_code=404)
        text = str((await body(request)).get("text") or "").strip()
        if not text or len(text) > MAX_TEXT:
            return JSONResponse({"error": f"text must be 1-{MAX_TEXT} characters"}, 400)
        return await run(user.say(text))

    async def tap(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return JSONResponse({"error": "unknown customer"}, status_code=404)
        data = await body(request)
        control = _find(user, data.get("seq"), data.get("control"))
        if control is None:
            return JSONResponse({"error": "no such button in this chat"}, status_code=404)
        return await run(user.tap_control(control))

    return [
        Route("/api/kakao/people", list_people),
        Route("/api/kakao/{who}/chat", chat),
        Route("/api/kakao/{who}/enter", enter, methods=["POST"]),
        Route("/api/kakao/{who}/say", say, methods=["POST"]),
        Route("/api/kakao/{who}/tap", tap, methods=["POST"]),
    ]


def _find(user: KakaoUser, seq: Any, wanted: Any) -> Control | None:
    """The control the page shows, only if that bubble really offers it (quick replies
    only on the newest answer, as in KakaoTalk)."""
    if not isinstance(seq, int) or not isinstance(wanted, dict):
        return None
    bots = [b for b in user.transcript if b.response is not None]
    bubble = next((b for b in bots if b.seq == seq), None)
    if bubble is None or bubble.response is None:
        return None
    cards, quick = controls_of(bubble.response)
    newest = user.transcript[-1].seq == bubble.seq
    for control in cards + (quick if newest else []):
        if (
            control.label == wanted.get("label")
            and control.kind == wanted.get("kind")
            and (control.extra or None) == (wanted.get("extra") or None)
        ):
            return control
    return None
