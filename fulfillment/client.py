"""Async client for the SMM panel API v2 (provider-api.md).

One POST endpoint, form fields ``key`` + ``action`` + action fields, a JSON answer that we
judge by its body, never by ``Content-Type`` or HTTP status. The client speaks the
protocol and absorbs its quirks; it makes no business decisions.

Two failure kinds leave this module (see ``fulfillment.models``): ``PanelRejected`` for a
definite ``{"error": ...}`` and ``PanelUnavailable`` for "no clear answer". Read-only calls
retry ``PanelUnavailable`` with exponential backoff; ``add``/``refill``/``cancel`` never
retry, because the panel has no idempotency key and a resend could order twice.

The API key is sent in the form body only and is scrubbed from every message we build.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Self, TypeVar
from urllib.parse import quote, quote_plus

import httpx

from fulfillment import parse
from fulfillment.models import (
    AddRequest,
    Balance,
    ItemError,
    OrderStatus,
    PanelRejected,
    PanelService,
    PanelUnavailable,
    RefillStatus,
    ServiceType,
    StatusBatch,
)

log = logging.getLogger(__name__)

# Some panels sit behind a WAF that blocks non-browser agents (provider-api.md §1).
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
MAX_IDS_PER_CALL = 100
MAX_RETRY_DELAY = 30.0

Sleep = Callable[[float], Awaitable[None]]
_T = TypeVar("_T")


class PanelClient:
    """Client for one panel account. Safe to share between tasks."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float = 20.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._url = url  # taken verbatim from config: panels use /api/v2, /api/v1, /api.php…
        self._key = key
        self._max_retries = max_retries
        self._backoff = backoff
        self._sleep: Sleep = sleep or asyncio.sleep  # injectable so tests need no real sleeps
        self._secrets = tuple({s for s in (key, quote_plus(key), quote(key, safe="")) if s})
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/plain, */*"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"PanelClient(url={self._scrub(self._url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- actions ----------------------------------------------------------------------

    async def services(self) -> list[PanelService]:
        data = await self._call("services", {}, retry=True)
        if isinstance(data, dict):
            # SmartPanel answers {"status":"success","data":"Empty Data"} when empty;
            # a few panels wrap the list.
            data = next((v for v in data.values() if isinstance(v, list)), [])
        if not isinstance(data, list):
            return []
        result: list[PanelService] = []
        for raw in data:
            service = parse.parse_service(raw)
            if service is None:
                log.warning("panel services: skipping an unusable entry")
                continue
            result.append(service)
        return result

    async def add(self, req: AddRequest) -> str:
        """Place one order; returns the panel's order id as text. Never retried."""
        fields = add_fields(req)
        data = await self._call("add", fields, retry=False)
        order_id = None
        if isinstance(data, dict):
            order_id = parse.to_id(data.get("order", data.get("order_id")))
            if order_id is None and "error" in data:
                raise PanelRejected(self._scrub(parse.error_text(data)))
        if order_id is None:
            raise PanelUnavailable("add: the answer carries no order id")
        log.debug("panel add: service %s → order %s", req.service_id, order_id)
        return order_id

    async def status(self, order_id: str) -> OrderStatus:
        data = await self._call("status", {"order": str(order_id)}, retry=True)
        return self._single(data, "status", parse.parse_order_status)

    async def statuses(self, ids: Iterable[str]) -> StatusBatch:
        """Poll many orders, ≤100 ids per call; per-id errors become ItemError, a
        whole-call error raises. ``calls`` counts HTTP requests sent (retries included)."""
        batch = StatusBatch()
        counter = [0]
        for chunk in _chunks(ids):
            data = await self._call(
                "status", {"orders": ",".join(chunk)}, retry=True, counter=counter
            )
            entries = parse.match_batch(chunk, data, ("order", "id"))
            for order_id, entry in entries.items():
                batch.results[order_id] = self._scrub_item(parse.status_entry(entry))
        batch.calls = counter[0]
        return batch

    async def refill(self, order_id: str) -> str:
        data = await self._call("refill", {"order": str(order_id)}, retry=False)
        value = data.get("refill") if isinstance(data, dict) else None
        refill_id = _refill_id(value)
        if refill_id is not None:
            return refill_id
        if isinstance(value, dict) or (isinstance(data, dict) and "error" in data):
            raise PanelRejected(self._scrub(parse.error_text(value or data)))
        raise PanelUnavailable("refill: the answer carries no refill id")

    async def refills(self, ids: Iterable[str]) -> dict[str, str | ItemError]:
        """Request refills for many orders. Never retried; a failing later chunk raises
        after earlier chunks were sent, so pass ≤100 ids when that matters."""
        result: dict[str, str | ItemError] = {}
        for chunk in _chunks(ids):
            data = await self._call("refill", {"orders": ",".join(chunk)}, retry=False)
            for order_id, entry in parse.match_batch(chunk, data, ("order",)).items():
                value = entry.get("refill", entry) if isinstance(entry, dict) else entry
                refill_id = _refill_id(value)
                result[order_id] = refill_id if refill_id is not None else self._item_error(value)
        return result

    async def refill_status(self, refill_id: str) -> RefillStatus:
        data = await self._call("refill_status", {"refill": str(refill_id)}, retry=True)
        return self._single(data, "refill_status", lambda d: parse.parse_refill_status(d["status"]))

    async def refill_statuses(self, ids: Iterable[str]) -> dict[str, RefillStatus | ItemError]:
        result: dict[str, RefillStatus | ItemError] = {}
        for chunk in _chunks(ids):
            data = await self._call("refill_status", {"refills": ",".join(chunk)}, retry=True)
            for refill_id, entry in parse.match_batch(chunk, data, ("refill",)).items():
                value = entry.get("status", entry) if isinstance(entry, dict) else entry
                # a bare string instead of an entry is an error text, not a status
                if isinstance(entry, dict) and isinstance(value, str):
                    result[refill_id] = parse.parse_refill_status(value)
                else:
                    result[refill_id] = self._item_error(value)
        return result

    async def cancel(self, ids: Iterable[str]) -> dict[str, bool | ItemError]:
        """Ask to cancel orders. True means the panel *accepted the request*; the order is
        canceled (and refunded) only when a later ``status`` says so. Never retried."""
        result: dict[str, bool | ItemError] = {}
        for chunk in _chunks(ids):
            data = await self._call("cancel", {"orders": ",".join(chunk)}, retry=False)
            for order_id, entry in parse.match_batch(chunk, data, ("order",)).items():
                value = entry.get("cancel", entry) if isinstance(entry, dict) else entry
                if isinstance(value, bool | int | str) and not _is_error_word(value):
                    result[order_id] = parse.to_bool(value)
                else:
                    result[order_id] = self._item_error(value)
        return result

    async def balance(self) -> Balance:
        data = await self._call("balance", {}, retry=True)
        amount = parse.to_decimal(data.get("balance")) if isinstance(data, dict) else None
        if amount is None:
            raise PanelUnavailable("balance: the answer carries no balance")
        return Balance(amount=amount, currency=parse.to_text(data.get("currency")))

    # --- transport --------------------------------------------------------------------

    async def _call(
        self,
        action: str,
        fields: dict[str, str],
        *,
        retry: bool,
        counter: list[int] | None = None,
    ) -> Any:
        attempts = 1 + (self._max_retries if retry else 0)
        for attempt in range(attempts):
            if counter is not None:
                counter[0] += 1
            try:
                return await self._post_once(action, fields)
            except PanelUnavailable as exc:
                if attempt + 1 >= attempts:
                    log.warning("panel %s failed: %s", action, exc)
                    raise
                delay = self._retry_delay(attempt, exc.retry_after)
                log.warning(
                    "panel %s failed: %s; retry %d/%d in %.2fs",
                    action,
                    exc,
                    attempt + 1,
                    self._max_retries,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self._backoff * (2**attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, MAX_RETRY_DELAY)

    async def _post_once(self, action: str, fields: dict[str, str]) -> Any:
        data = {"key": self._key, "action": action, **fields}
        started = time.monotonic()
        try:
            response = await self._http.post(self._url, data=data)
        # httpx exceptions carry the request (and so the key): build our own messages and
        # drop the cause with ``from None``.
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise PanelUnavailable(
                f"{action}: cannot connect to the panel ({type(exc).__name__})",
                request_sent=False,
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise PanelUnavailable(f"{action}: invalid panel URL", request_sent=False) from None
        except httpx.TimeoutException as exc:
            raise PanelUnavailable(f"{action}: no answer in time ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise PanelUnavailable(f"{action}: transport error ({type(exc).__name__})") from None
        log.debug(
            "panel %s: HTTP %d, %d bytes in %.0f ms",
            action,
            response.status_code,
            len(response.content),
            (time.monotonic() - started) * 1000,
        )
        return self._interpret(action, response)

    def _interpret(self, action: str, response: httpx.Response) -> Any:
        code = response.status_code
        if code == 429:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            raise PanelUnavailable(f"{action}: rate limited (HTTP 429)", retry_after=retry_after)
        data, is_json = parse.parse_body(response.content)
        if code >= 500:
            # A 5xx may have done part of the work; even with an error text it is no
            # definite "no" (matters for add).
            detail = f": {parse.error_text(data)}" if parse.is_error_object(data) else ""
            raise PanelUnavailable(self._scrub(f"{action}: HTTP {code}{detail}"))
        if not is_json:
            kind = "empty" if not response.content.strip() else "non-JSON"
            raise PanelUnavailable(f"{action}: invalid response (HTTP {code}, {kind} body)")
        if parse.is_error_object(data):
            message = self._scrub(parse.error_text(data))
            log.debug("panel %s rejected (HTTP %d): %s", action, code, message)
            raise PanelRejected(message)
        if not 200 <= code < 300:
            raise PanelUnavailable(f"{action}: HTTP {code} without an error message")
        return data

    # --- helpers ----------------------------------------------------------------------

    def _single(self, data: Any, action: str, build: Callable[[dict[str, Any]], Any]) -> Any:
        """A single-object answer that must have ``status``; ``error`` among other keys
        (SmartPanel echoes ``order``) is still a rejection."""
        if isinstance(data, dict):
            value = data.get("status")
            if isinstance(value, str | int) and not isinstance(value, bool):
                return build(data)
            if isinstance(value, dict) or "error" in data:
                raise PanelRejected(self._scrub(parse.error_text(value or data)))
        raise PanelUnavailable(f"{action}: unexpected answer shape")

    def _item_error(self, value: Any) -> ItemError:
        if value is parse.MISSING or value is None:
            return ItemError("no answer for this id")
        return ItemError(self._scrub(parse.error_text(value)) or "unknown error")

    def _scrub_item(self, item: OrderStatus | ItemError) -> OrderStatus | ItemError:
        return ItemError(self._scrub(item.error)) if isinstance(item, ItemError) else item

    def _scrub(self, text: str) -> str:
        """Panels sometimes echo the key ("Invalid API key abc…"); never let it out."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def add_fields(req: AddRequest) -> dict[str, str]:
    """The form fields of ``action=add``: only those the service type takes (§5);
    some panels reject fields that do not belong to the type."""
    fields = {"service": str(req.service_id)}
    if req.type is ServiceType.DEFAULT:
        fields["link"] = _required(req.link, "link")
        fields["quantity"] = str(_required(req.quantity, "quantity"))
        if req.runs is not None:
            fields["runs"] = str(req.runs)
            fields["interval"] = str(req.interval or 0)
    elif req.type is ServiceType.PACKAGE:
        fields["link"] = _required(req.link, "link")
    elif req.type is ServiceType.CUSTOM_COMMENTS:
        fields["link"] = _required(req.link, "link")
        # one comment per line: a newline inside a comment would count as two
        lines = [" ".join(c.split()) for c in req.comments if c.strip()]
        if not lines:
            raise ValueError("custom comments need at least one comment")
        fields["comments"] = "\n".join(lines)  # the panel counts lines as the quantity
    elif req.type is ServiceType.SUBSCRIPTIONS:
        fields["username"] = _required(req.username, "username")
        fields["min"] = str(_required(req.min, "min"))
        fields["max"] = str(_required(req.max, "max"))
        if req.posts is not None:
            fields["posts"] = str(req.posts)
        fields["delay"] = str(req.delay or 0)
        if req.expiry:
            fields["expiry"] = req.expiry
    else:
        raise ValueError(f"service type {req.type} cannot be ordered through this client")
    return fields


def _required(value: _T | None, name: str) -> _T:
    if value is None or value == "":
        raise ValueError(f"add: {name} is required for this service type")
    return value


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(str(i) for i in ids))  # keep order, drop repeats
    return [unique[i : i + MAX_IDS_PER_CALL] for i in range(0, len(unique), MAX_IDS_PER_CALL)]


def _refill_id(value: Any) -> str | None:
    """A refill id (int or token); a sentence in its place is an error text."""
    ident = parse.to_id(value)
    return None if ident is None or any(c.isspace() for c in ident) else ident


def _is_error_word(value: Any) -> bool:
    """A bare string that is not a 0/1 flag is an error text, not a cancel flag."""
    return isinstance(value, str) and value.strip().lower() not in {"0", "1", "true", "false"}


def _retry_after_seconds(header: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not header:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
