"""Tolerant parsing of SMM panel API v2 answers (provider-api.md §9).

Panels disagree on almost every detail: numbers come as strings, ints, floats, ``""``,
``null`` or ``"Unknown"``; ids are ints or (non-numeric) strings; status words vary in
spelling and case. Everything here turns such raw JSON values into the typed models and
never raises on odd values: an unparseable number becomes ``None``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from fulfillment.models import (
    ItemError,
    OrderStatus,
    PanelService,
    PanelStatus,
    RefillStatus,
    ServiceType,
)

MISSING: Any = object()  # marker: the panel said nothing about an id

# Bounds for numbers from the panel (§9.4: any of them can be absurd). Outside them a value
# becomes None ("unknown"), so nothing absurd reaches the shop's arithmetic or SQLite
# (INTEGER is 64-bit: a start_count of 2^63 would make every write of that order fail).
MAX_INT = 2**53  # any integer field
MAX_COUNT = 10**12  # start_count, remains: no counter or order comes near a trillion
MAX_RUNS = 10**6  # runs, posts, run counters
MAX_AMOUNT = Decimal(10**12)  # charge, balance, rate, in the panel's currency
MAX_DECIMALS = 18  # more digits after the point than any panel prints (≤ 11 seen)
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")


# --- body -----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _parse_int(text: str) -> int | Decimal:
    # Python refuses to turn > 4300 digits into an int and the whole body would be lost;
    # as a Decimal it reaches to_int, which calls it unknown.
    return int(text) if len(text) <= 40 else Decimal(text)


_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_int=_parse_int, parse_constant=_reject_constant
)
_JSON_START = re.compile(r"[\[{]")
_MAX_JSON_CANDIDATES = 64  # bounds the work spent on a large HTML page


def parse_body(content: bytes) -> tuple[Any, bool]:
    """Return ``(value, True)`` for a JSON body, ``(None, False)`` for anything else.

    Floats become Decimal so money never passes through binary floating point. PHP
    notices printed before the JSON are skipped: we accept the first object/array that
    starts after the garbage and runs to the end of the body (an HTML page never does).
    """
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not text:
        return None, False
    try:
        return _DECODER.decode(text), True
    except ValueError:
        pass
    for match in islice(_JSON_START.finditer(text), _MAX_JSON_CANDIDATES):
        try:
            value, end = _DECODER.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict | list) and not text[end:].strip():
            return value, True
    return None, False


def is_error_object(data: Any) -> bool:
    """The whole-call failure shape: an object whose only key is ``error``."""
    return isinstance(data, dict) and len(data) == 1 and "error" in data


def error_text(value: Any) -> str:
    """Text of an error value, which may itself be ``{"error": "..."}``."""
    if isinstance(value, dict) and "error" in value:
        return error_text(value["error"])
    return "" if value is None else str(value)


# --- scalars --------------------------------------------------------------------------


def to_decimal(value: Any) -> Decimal | None:
    """Decimal from a string/int/Decimal; ``""``/None/"Unknown"/NaN → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # only reached if a caller bypassed parse_body
    elif isinstance(value, str):
        text = value.strip()
        if "," in text:
            # "1,234.50" is a thousands separator; "0,27" (decimal comma) is ambiguous
            # and must not silently become 27.
            if not _THOUSANDS.fullmatch(text):
                return None
            text = text.replace(",", "")
        if not text:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def to_int(value: Any) -> int | None:
    """Integer from int/str/Decimal ("1520", 1520, "1520.0", "-2"); otherwise None (also
    beyond ±2^53: no panel count is that large, and it keeps int() cheap)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) <= MAX_INT else None
    if isinstance(value, str) and 0 < len(value) <= 17 and value.isdigit():
        number_ = int(value)  # the common case ("1520"), without a Decimal
        return number_ if number_ <= MAX_INT else None
    number = to_decimal(value)
    if number is None or abs(number) > MAX_INT:
        return None
    return int(number)  # truncates "12.7"; panels never send fractional counts on purpose


def to_count(value: Any, lo: int, hi: int) -> int | None:
    """An integer in [lo, hi], else None (rejected rather than clamped: a clamped absurd
    value would look like a real one)."""
    number = to_int(value)
    return number if number is not None and lo <= number <= hi else None


def to_amount(value: Any) -> Decimal | None:
    """A money amount in [0, MAX_AMOUNT] with at most MAX_DECIMALS places, else None."""
    number = to_decimal(value)
    if number is None or not 0 <= number <= MAX_AMOUNT:
        return None
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent < -MAX_DECIMALS:  # trailing zeros do not count
        exponent = number.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
    return number if exponent >= -MAX_DECIMALS else None


def to_bool(value: Any) -> bool:
    """Flags come as bool, 0/1, "0"/"1", "true"/"false"; missing → False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on", "y"}
    return False


def to_id(value: Any) -> str | None:
    """Order/refill/service ids are opaque text: 23501, "23501" and "A23501" all work."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else value
    text = str(value).strip()
    return text or None


def to_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


# --- words ----------------------------------------------------------------------------


def _squash(word: str) -> str:
    """ "In progress" / "in_progress" / "inprogress" / "IN-PROGRESS" → "inprogress"."""
    return re.sub(r"[\s_\-]+", "", word.strip().lower())


_ORDER_STATUS = {
    "pending": PanelStatus.PENDING,
    "processing": PanelStatus.PROCESSING,
    "inprogress": PanelStatus.IN_PROGRESS,
    "active": PanelStatus.IN_PROGRESS,  # drip-feed / subscription parents
    "completed": PanelStatus.COMPLETED,
    "complete": PanelStatus.COMPLETED,
    "success": PanelStatus.COMPLETED,
    "partial": PanelStatus.PARTIAL,
    "canceled": PanelStatus.CANCELED,
    "cancelled": PanelStatus.CANCELED,
    "refunded": PanelStatus.CANCELED,
    "fail": PanelStatus.FAILED,
    "failed": PanelStatus.FAILED,
    "error": PanelStatus.FAILED,
    "expired": PanelStatus.EXPIRED,
    "paused": PanelStatus.PAUSED,
}


def normalize_status(raw: Any) -> PanelStatus:
    if not isinstance(raw, str):
        return PanelStatus.UNKNOWN
    return _ORDER_STATUS.get(_squash(raw), PanelStatus.UNKNOWN)


_REFILL_STATUS = {
    "pending": "pending",
    "processing": "processing",
    "inprogress": "in_progress",
    "completed": "completed",
    "complete": "completed",
    "success": "completed",
    "rejected": "rejected",
    "error": "error",
    "fail": "error",
    "failed": "error",
    "canceled": "canceled",
    "cancelled": "canceled",
}


def parse_refill_status(raw: Any) -> RefillStatus:
    text = to_text(raw) or ""
    return RefillStatus(status=_REFILL_STATUS.get(_squash(text), "unknown"), raw_status=text)


_SERVICE_TYPE = {
    "default": ServiceType.DEFAULT,
    "package": ServiceType.PACKAGE,
    "customcomments": ServiceType.CUSTOM_COMMENTS,
    "subscriptions": ServiceType.SUBSCRIPTIONS,
}


def normalize_service_type(raw: Any) -> ServiceType:
    if not isinstance(raw, str):
        return ServiceType.OTHER
    return _SERVICE_TYPE.get(_squash(raw), ServiceType.OTHER)


# --- structures -----------------------------------------------------------------------


def parse_service(raw: Any) -> PanelService | None:
    """One entry of ``action=services``; None when the entry is unusable."""
    if not isinstance(raw, dict):
        return None
    service_id = to_id(raw.get("service"))
    rate = to_amount(raw.get("rate"))
    min_q, max_q = to_int(raw.get("min")), to_int(raw.get("max"))
    if service_id is None or rate is None or min_q is None or max_q is None:
        return None
    raw_type = to_text(raw.get("type")) or ""
    description = raw.get("desc", raw.get("description"))
    return PanelService(
        service_id=service_id,
        name=to_text(raw.get("name")) or "",
        type=normalize_service_type(raw_type),
        raw_type=raw_type,
        category=to_text(raw.get("category")) or "",
        rate=rate,
        min=min_q,
        max=max_q,
        refill=to_bool(raw.get("refill")),
        cancel=to_bool(raw.get("cancel")),
        dripfeed=to_bool(raw.get("dripfeed")),
        description=to_text(description),
    )


def parse_order_status(raw: dict[str, Any]) -> OrderStatus:
    """Standard shape, or the drip-feed/subscription shape without charge/remains."""
    raw_status = to_text(raw.get("status")) or ""
    children = raw.get("orders")
    child_ids = (
        tuple(i for i in (to_id(c) for c in children) if i is not None)
        if isinstance(children, list)
        else ()
    )
    return OrderStatus(
        status=normalize_status(raw_status),
        raw_status=raw_status,
        charge=to_amount(raw.get("charge")),
        start_count=to_count(raw.get("start_count"), 0, MAX_COUNT),
        remains=to_count(raw.get("remains"), -MAX_COUNT, MAX_COUNT),
        currency=to_text(raw.get("currency")),
        child_orders=child_ids,
        posts=to_count(raw.get("posts"), 0, MAX_RUNS),
        runs=to_count(raw.get("runs"), 0, MAX_RUNS),
        runs_done=to_count(raw.get("delivery", raw.get("runs_done")), 0, MAX_RUNS),
        children_listed=isinstance(children, list),
    )


def status_entry(value: Any) -> OrderStatus | ItemError:
    """One value of a multi-status answer."""
    if isinstance(value, dict):
        if "status" not in value:
            return ItemError(error_text(value.get("error", "no status in answer")))
        if isinstance(value["status"], dict):  # {"status": {"error": ...}}
            return ItemError(error_text(value["status"]))
        return parse_order_status(value)
    if isinstance(value, str) and value.strip():
        return ItemError(value.strip())  # SmartPanel's bare "Incorrect order ID"
    return ItemError("no answer for this id")


def match_batch(ids: list[str], data: Any, id_keys: tuple[str, ...]) -> dict[str, Any]:
    """Map every requested id to its raw entry (``MISSING`` if none).

    Object answers are keyed by id. Array answers are matched by an id field in each
    entry (``order`` / ``refill``) when that finds every id, otherwise by position (one
    Laravel clone returns bare entries in request order).
    """
    if isinstance(data, dict):
        keyed = {to_id(k): v for k, v in data.items()}
        return {i: keyed.get(i, MISSING) for i in ids}
    if not isinstance(data, list):
        return dict.fromkeys(ids, MISSING)
    by_key: dict[str, Any] = {}
    for entry in data:
        if isinstance(entry, dict):
            for key in id_keys:
                ident = to_id(entry.get(key))
                if ident is not None:
                    by_key.setdefault(ident, entry)
                    break
    if all(i in by_key for i in ids) or len(data) != len(ids):
        return {i: by_key.get(i, MISSING) for i in ids}
    return dict(zip(ids, data, strict=True))
