"""Reading a SkillPayload: who spoke, what they typed or tapped, from which bot.

Kakao's payloads vary in the wild (../shared/kakao-skill.md §2): ``clientExtra`` is an
object, ``{}``, ``null`` or missing; ``user.type`` has had several names; ``isFriend`` is
absent rather than false. Anything else that is off — not JSON, no user id, a tap whose
extra is not an object — is a malformed request and gets a clean refusal, never a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 64 * 1024  # real payloads are ~1-2 KB
MAX_USER_KEY = 100  # botUserKey is at most 70 characters; leave room, refuse nonsense
MAX_UTTERANCE = 4000  # KakaoTalk's own input limit is lower; the chat layer checks more


class BadPayload(ValueError):
    """Not a SkillPayload we can answer (the message is safe to show the caller)."""


@dataclass(frozen=True, slots=True)
class SkillRequest:
    user_key: str  # userRequest.user.id: the botUserKey, our customer's external id
    plusfriend_key: str | None
    is_friend: bool
    utterance: str
    extra: dict[str, Any]  # action.clientExtra; {} for a typed turn
    bot_id: str | None
    block_id: str | None
    lang: str  # "ko" | "en"

    @property
    def tapped(self) -> bool:
        return bool(self.extra)


def _obj(value: Any, where: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{where} must be an object")
    return value


def parse(body: bytes) -> SkillRequest:
    if len(body) > MAX_BODY_BYTES:
        raise BadPayload("payload too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("payload is not JSON") from None
    data = _obj(data, "payload")
    request = _obj(data.get("userRequest"), "userRequest")
    user = _obj(request.get("user"), "userRequest.user")
    key = user.get("id")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_USER_KEY:
        raise BadPayload("userRequest.user.id must be a short string")
    if not key.isprintable():
        raise BadPayload("userRequest.user.id must be printable")
    props = _obj(user.get("properties"), "userRequest.user.properties", required=False)
    utterance = request.get("utterance", "")
    if utterance is None:
        utterance = ""
    if not isinstance(utterance, str):
        raise BadPayload("userRequest.utterance must be a string")
    action = _obj(data.get("action"), "action", required=False)
    extra = _obj(action.get("clientExtra"), "action.clientExtra", required=False)
    bot = _obj(data.get("bot"), "bot", required=False)
    bot_id = bot.get("id")
    block = _obj(request.get("block"), "userRequest.block", required=False)
    pf = props.get("plusfriendUserKey") or props.get("plusfriend_user_key")
    lang = request.get("lang")
    return SkillRequest(
        user_key=key,
        plusfriend_key=pf if isinstance(pf, str) else None,
        is_friend=props.get("isFriend") is True,
        utterance=utterance[:MAX_UTTERANCE],
        extra=extra,
        bot_id=bot_id if isinstance(bot_id, str) else None,
        block_id=block.get("id") if isinstance(block.get("id"), str) else None,
        lang="en" if isinstance(lang, str) and lang.lower().startswith("en") else "ko",
    )
