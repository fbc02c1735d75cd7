"""The HTTP client the bot talks to the Bot API with: PTB's own, plus the answer's status.

PTB turns a 5xx answer into a bare ``NetworkError("Internal Server Error")``, the same
type as a refused connection, so a start-up failure could only say "cannot be reached"
even when something answered. ``BotApiAnswered`` keeps the HTTP status, and
``describe_failure`` names what happened: an answer with a status, no answer in time,
or no connection at all.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest


class BotApiAnswered(NetworkError):
    """The Bot API (or a proxy in front of it) answered with an HTTP 5xx status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status} ({detail})")
        self.status = status
        self.detail = detail


def _detail(status: int, payload: bytes) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "unknown status"
    try:
        description = json.loads(payload).get("description")
    except (ValueError, AttributeError):
        description = None  # an HTML error page from a proxy
    return f"{phrase}: {description}" if description and description != phrase else phrase


class StatusRequest(HTTPXRequest):
    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        status, payload = await super().do_request(*args, **kwargs)
        if status >= 500:
            raise BotApiAnswered(status, _detail(status, payload))
        return status, payload


def describe_failure(base_url: str, exc: NetworkError) -> str:
    """One line for the operator; ``base_url`` carries no token (PTB appends it)."""
    if isinstance(exc, BotApiAnswered):
        return f"the Bot API at {base_url} answered HTTP {exc.status} ({exc.detail})"
    if isinstance(exc, TimedOut):
        return f"the Bot API at {base_url} did not answer in time ({exc})"
    return f"cannot connect to the Bot API at {base_url} ({exc})"
