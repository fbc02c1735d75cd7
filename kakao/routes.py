"""The skill route: Kakao POSTs a SkillPayload here for every customer turn.

There is no request signature (kakao-skill.md §1): the path is configurable (make it
unguessable) and ``bot.id`` is checked when ``kakao.bot_id`` is set. A malformed payload
or another bot's gets a short JSON refusal (400 / 403), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kakao.front import KakaoFront
from kakao.payload import MAX_BODY_BYTES, BadPayload, parse

log = logging.getLogger(__name__)


def skill_routes(front: KakaoFront, path: str = "/kakao/skill") -> list[BaseRoute]:
    async def skill(request: Request) -> Response:
        deadline = asyncio.get_running_loop().time() + front.settings.budget
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        body = b""
        async for chunk in request.stream():  # chunked bodies have no length to check first
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return JSONResponse({"error": "payload too large"}, status_code=413)
        try:
            req = parse(body)
        except BadPayload as exc:
            log.info("kakao skill: refused a malformed payload (%s)", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        if not front.accepts_bot(req.bot_id):
            # Often a copied skill URL or a wrong kakao.bot_id: say which id came.
            log.warning("kakao skill: refused a payload of bot %r (kakao.bot_id differs)",
                        (req.bot_id or "")[:40])  # fmt: skip
            return JSONResponse({"error": "this skill serves another bot"}, status_code=403)
        return JSONResponse(await front.answer(req, deadline))

    return [Route(path, skill, methods=["POST"])]
