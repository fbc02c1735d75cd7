"""The Kakao Event API client: push a message to KakaoTalk customers, read what arrived.

``POST {base}/v2/bots/{botId}/talk`` with ``Authorization: KakaoAK <REST API key>``
sends one event (its ``data`` is shown by the console's event block) to 1–100 users and
answers a task id: SUCCESS means *accepted*, not delivered. ``GET {base}/v1/tasks/{id}``
tells, per user, what failed (non-friends, blockers, unknown keys). The key is never
logged; errors carry Kakao's message, not the request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

MAX_USERS = 100


class EventApiError(Exception):
    """The call did not go through. ``retry``: worth trying again later (5xx, network);
    otherwise the request itself is wrong (bad key, unknown event, refused body)."""

    def __init__(self, message: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status


@dataclass(frozen=True, slots=True)
class TaskResult:
    done: bool  # False while Kakao still reports the task as processing
    requested: int
    succeeded: int
    failed: dict[str, str] = field(default_factory=dict)  # user key -> Kakao's reason


class EventApiClient:
    def __init__(
        self,
        base_url: str,
        rest_api_key: str,
        bot_id: str,
        event_name: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.bot_id = bot_id
        self.event_name = event_name
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"KakaoAK {rest_api_key}"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, user_keys: list[str], data: dict[str, Any]) -> str:
        """One event to up to 100 botUserKeys; returns the task id to check later."""
        if not 1 <= len(user_keys) <= MAX_USERS or len(set(user_keys)) != len(user_keys):
            raise ValueError("1 to 100 distinct users per call")
        body = {
            "event": {"name": self.event_name, "data": data},
            "user": [{"type": "botUserKey", "id": key} for key in user_keys],
        }
        answer = await self._call("POST", f"/v2/bots/{self.bot_id}/talk", json=body)
        task_id = answer.get("taskId")
        if answer.get("status") != "SUCCESS" or not isinstance(task_id, str):
            raise EventApiError(_message(answer) or "talk was not accepted", retry=False)
        return task_id

    async def result(self, task_id: str) -> TaskResult:
        answer = await self._call("GET", f"/v1/tasks/{task_id}")
        fail = answer.get("fail") if isinstance(answer.get("fail"), dict) else {}
        failed: dict[str, str] = {}
        for entry in fail.get("list") or []:
            if isinstance(entry, dict):
                # The entry's shape is not documented: accept the spellings clients read.
                key = entry.get("userID") or entry.get("userId") or entry.get("user_id")
                if isinstance(key, str):
                    failed[key] = str(entry.get("errorMsg") or entry.get("message") or "failed")
        requested = _int(answer.get("allRequestCount"))
        succeeded = _int(answer.get("successCount"))
        status = str(answer.get("status") or "").upper()
        done = requested > 0 and succeeded + max(len(failed), _int(fail.get("count"))) >= requested
        if status in ("PROCESSING", "PENDING", "READY"):
            done = False
        return TaskResult(done, requested, succeeded, failed)

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            resp = await self._client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            reason = f"Event API unreachable: {type(exc).__name__}"
            raise EventApiError(reason, retry=True) from None
        try:
            answer = json.loads(resp.content) if resp.content else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if resp.status_code >= 500:
            raise EventApiError(
                f"Event API error {resp.status_code}: {_message(answer)}",
                retry=True, status=resp.status_code,
            )  # fmt: skip
        if resp.status_code != 200:
            raise EventApiError(
                f"Event API refused ({resp.status_code}): {_message(answer)}",
                retry=resp.status_code == 429, status=resp.status_code,
            )  # fmt: skip
        return answer


def _message(answer: dict[str, Any]) -> str:
    return str(answer.get("message") or answer.get("msg") or "")[:200]


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
