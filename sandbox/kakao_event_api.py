"""A fake Kakao Event API (bot-initiated messages), served over real HTTP.

``POST /v2/bots/{botId}/talk`` with ``Authorization: KakaoAK <REST API key>`` and
``{"event": {"name", "data"}, "user": [{"type", "id"}, ...]}`` (1–100 distinct users)
answers ``{"taskId", "status": "SUCCESS", "timestamp"}`` — accepted, not delivered.
``GET /v1/tasks/{taskId}`` gives the per-user results: non-friends, blocked and unknown
users fail individually. A delivered message appears in the customer's chat in the fake
Open Builder as the event block's bubble (``{{#current.event.data.KEY}}`` filled in).
Each delivered message costs 15 원 (counted in ``cost``).

Fault switches: ``bad_key`` (every call 401), ``fail_users`` (these botUserKeys fail),
``server_errors`` (the next N calls answer 500 ERROR), ``processing_polls`` (a task reads
as still processing that many times before its result).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.kakao import OpenBuilder
from sandbox.kakao_limits import MAX_SIMPLE_TEXT
from sandbox.server import EmbeddedServer, start_uvicorn, stop_uvicorn

MAX_USERS = 100
USER_TYPES = ("botUserKey", "plusfriendUserKey", "appUserId")
PRICE_KRW = 15
_PLACEHOLDER = re.compile(r"\{\{#current\.event\.data\.([A-Za-z0-9_]+)\}\}")


@dataclass
class Task:
    id: str
    event: str
    requested: int
    successes: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    polls: int = 0


@dataclass
class TalkCall:
    """One recorded POST …/talk (for assertions)."""

    bot_id: str
    status: int
    body: Any
    answer: dict[str, Any]


class EventApi:
    def __init__(self, ob: OpenBuilder, rest_api_key: str) -> None:
        self.ob = ob
        self.rest_api_key = rest_api_key
        self.tasks: dict[str, Task] = {}
        self.calls: list[TalkCall] = []
        self.bad_key = False
        self.fail_users: set[str] = set()
        self.server_errors = 0
        self.processing_polls = 0
        self.delivered = 0

    @property
    def cost(self) -> int:
        return self.delivered * PRICE_KRW

    def _authorized(self, request: Request) -> bool:
        return not self.bad_key and request.headers.get("authorization") == (
            f"KakaoAK {self.rest_api_key}"
        )

    async def talk(self, request: Request) -> Response:
        bot_id = request.path_params["bot_id"]
        status, answer, body = await self._talk(request, bot_id)
        self.calls.append(TalkCall(bot_id, status, body, answer))
        return JSONResponse(answer, status_code=status)

    async def _talk(self, request: Request, bot_id: str) -> tuple[int, dict[str, Any], Any]:
        if not self._authorized(request):
            return 401, {"code": -401, "msg": "wrong appKey or not authorized"}, None
        if self.server_errors > 0:
            self.server_errors -= 1
            return 500, _fail("ERROR", "internal server error"), None
        try:
            body = json.loads(await request.body())
        except ValueError:
            return 400, _fail("FAIL", "request body is not JSON"), None
        # The dev channel's bot id carries a "!" suffix (kakao-skill.md §6).
        if bot_id.rstrip("!") != self.ob.console.bot_id:
            return 400, _fail("FAIL", f"bot {bot_id} not found"), body
        problem = _check_body(body, self.ob.console.event_blocks)
        if problem:
            return 400, _fail("FAIL", problem), body
        task = Task(str(uuid.uuid4()), body["event"]["name"], len(body["user"]))
        bubble = _fill(self.ob.console.event_blocks[task.event], body["event"].get("data") or {})
        for target in body["user"]:
            error = self._deliver(target, bubble)
            if error is None:
                task.successes.append(target["id"])
            else:
                task.failures.append({"userID": target["id"], "errorMsg": error})
        self.tasks[task.id] = task
        return 200, {"taskId": task.id, "status": "SUCCESS", "timestamp": _ms()}, body

    def _deliver(self, target: dict[str, Any], bubble: str) -> str | None:
        user = self.ob.by_key(target["id"], target["type"])
        if user is None:
            return "user not found"
        if target["id"] in self.fail_users or user.key in self.fail_users:
            return "failed to send message"
        if user.blocked or not user.is_friend:
            return "user is not a friend of the channel"
        if not bubble.strip() or len(bubble) > MAX_SIMPLE_TEXT:
            return "invalid event block output"
        self.ob.push_event(user, bubble)
        self.delivered += 1
        return None

    async def task(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"code": -401, "msg": "wrong appKey or not authorized"}, 401)
        if self.server_errors > 0:
            self.server_errors -= 1
            return JSONResponse(_fail("ERROR", "internal server error"), 500)
        task = self.tasks.get(request.path_params["task_id"])
        if task is None:
            return JSONResponse(_fail("FAIL", "task not found"), 404)
        task.polls += 1
        if task.polls <= self.processing_polls:
            return JSONResponse({"taskId": task.id, "status": "PROCESSING",
                                 "allRequestCount": task.requested, "successCount": 0,
                                 "fail": {"count": 0, "list": []}})  # fmt: skip
        ok = len(task.successes)
        status = "ALL SUCCESS" if ok == task.requested else "FAIL" if ok == 0 else "PARTIAL SUCCESS"
        return JSONResponse({
            "taskId": task.id, "status": status, "allRequestCount": task.requested,
            "successCount": ok,
            "fail": {"count": len(task.failures), "list": list(task.failures)},
        })  # fmt: skip

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v2/bots/{bot_id}/talk", self.talk, methods=["POST"]),
            Route("/v1/tasks/{task_id}", self.task, methods=["GET"]),
        ]


def _check_body(body: Any, events: dict[str, str]) -> str | None:
    if not isinstance(body, dict):
        return "body must be an object"
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("name"), str):
        return "event.name is required"
    if event["name"] not in events:
        return f"event {event['name']!r} not found (no event block with that name)"
    if "data" in event and not isinstance(event["data"], dict):
        return "event.data must be an object"
    users = body.get("user")
    if not isinstance(users, list) or not 1 <= len(users) <= MAX_USERS:
        return f"user must list 1 to {MAX_USERS} users"
    seen = set()
    for u in users:
        if not isinstance(u, dict) or u.get("type") not in USER_TYPES:
            return f"user type must be one of {', '.join(USER_TYPES)}"
        if not isinstance(u.get("id"), str) or not u["id"]:
            return "user id is required"
        if (u["type"], u["id"]) in seen:
            return f"duplicate user {u['id']}"
        seen.add((u["type"], u["id"]))
    if "params" in body and not isinstance(body["params"], dict):
        return "params must be an object"
    return None


def _fill(template: str, data: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(data.get(m.group(1), "")), template)


def _fail(status: str, message: str) -> dict[str, Any]:
    return {"status": status, "message": message, "timestamp": _ms()}


def _ms() -> int:
    return int(time.time() * 1000)


@dataclass
class KakaoServer:
    """The fake Kakao side on loopback: the Event API (and any extra routes, e.g. the
    demo's chat page). ``url`` is the Event API base URL (``kakao.event_api_url``)."""

    api: EventApi
    url: str
    _server: EmbeddedServer
    _task: Any

    async def stop(self) -> None:
        await stop_uvicorn(self._server, self._task)


async def serve_kakao(
    api: EventApi,
    host: str = "127.0.0.1",
    port: int = 0,
    extra_routes: list[BaseRoute] | None = None,
) -> KakaoServer:
    app = Starlette(routes=[*api.routes(), *(extra_routes or [])])
    server, actual_port, task = await start_uvicorn(app, host, port)
    return KakaoServer(api, f"http://{host}:{actual_port}", server, task)
