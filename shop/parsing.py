"""Parsing what customers type. Every parser raises only ``InputError``.

``InputError.code`` names a message in the handlers' text catalog and ``params`` fills
its placeholders, so the customer gets a reason, not a stack trace.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_INPUT_CHARS = 4096
MAX_LINK_CHARS = 2048
MAX_NUMBER_DIGITS = 12
MAX_COMMENT_CHARS = 500


@dataclass
class InputError(Exception):
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.params}"


def _normalize(text: str) -> str:
    # NFKC turns full-width digits and letters into ASCII ("１，０００" -> "1,000").
    return unicodedata.normalize("NFKC", text).strip()


_NUMBER_RE = re.compile(r"^[+-]?\d{1,3}(?:[,\s]\d{3})+$|^[+-]?\d+$")
_UNIT_SUFFIX = re.compile(r"(개|명|회|건|ea|pcs?|x)$", re.IGNORECASE)


_KOREAN_UNITS = re.compile(r"^(?:(\d+(?:\.\d+)?)\s*만)?\s*(?:(\d+(?:\.\d+)?)\s*천)?\s*(\d{1,4})?$")


def _korean_units(t: str) -> int | None:
    """ "2만" → 20000, "1.5만" → 15000, "2만 5천" → 25000, "5천" → 5000 (None: not such)."""
    m = _KOREAN_UNITS.match(t)
    if m is None or (m.group(1) is None and m.group(2) is None):
        return None
    value = Decimal(m.group(1) or 0) * 10000 + Decimal(m.group(2) or 0) * 1000
    if value != value.to_integral_value():
        raise InputError("input.not_whole")
    return int(value) + int(m.group(3) or 0)


def parse_int(text: str | None, *, lo: int, hi: int, what: str = "quantity") -> int:
    """A whole number in [lo, hi]: "1000", "1,000", "1 000", "1000개", "１０００", "2만"."""
    if text is None or not text.strip():
        raise InputError("input.empty")
    if len(text) > 64:
        raise InputError("input.not_a_number")
    t = _normalize(text)
    t = _UNIT_SUFFIX.sub("", t).strip()
    korean = _korean_units(t)
    if korean is not None:
        if korean <= 0:
            raise InputError("input.not_positive")
        if korean < lo or korean > hi:
            raise InputError("input.out_of_range", {"min": lo, "max": hi})
        return korean
    if re.fullmatch(r"[+-]?\d+[.,]\d{1,2}", t) and not re.fullmatch(r"[+-]?\d{1,3},\d{3}", t):
        raise InputError("input.not_whole")
    if not _NUMBER_RE.match(t):
        raise InputError("input.not_a_number")
    digits = re.sub(r"[,\s+]", "", t)
    if digits.startswith("-"):
        raise InputError("input.not_positive")
    if len(digits.lstrip("0")) > MAX_NUMBER_DIGITS:
        raise InputError("input.out_of_range", {"min": lo, "max": hi})
    value = int(digits)
    if value <= 0:
        raise InputError("input.not_positive")
    if value < lo or value > hi:
        raise InputError("input.out_of_range", {"min": lo, "max": hi})
    return value


_RANGE_RE = re.compile(
    r"^(\S.*?)\s*(?:-|~|〜|–|—|부터|에서)\s*(\S.*?)(?:\s*까지)?$|^(\S+)\s+(\S+)$"
)


def parse_range(text: str | None, *, lo: int, hi: int) -> tuple[int, int] | None:
    """A min and a max typed at once: "100-200", "100~200", "100 200", "100개~200개",
    "100부터 200까지". None when the text is not two numbers (then it is one, or nothing);
    two spaced numbers are a range only if they make a valid one ("1 500" is 1,500)."""
    if text is None or len(text) > 64:
        return None
    m = _RANGE_RE.match(_normalize(text))
    if m is None:
        return None
    spaced = m.group(3) is not None
    first, second = (m.group(3), m.group(4)) if spaced else (m.group(1), m.group(2))
    try:
        a = parse_int(first, lo=0, hi=10**MAX_NUMBER_DIGITS)
        b = parse_int(second, lo=0, hi=10**MAX_NUMBER_DIGITS)
    except InputError:
        return None
    if spaced and not lo <= a <= b <= hi:
        return None  # "1 500": one number written with a space
    for value in (a, b):
        if value < lo or value > hi:
            raise InputError("input.out_of_range", {"min": lo, "max": hi})
    if b < a:
        raise InputError("sub.max_below_min", {"min": a})
    return a, b


_MAN = re.compile(r"^(\d+(?:\.\d+)?)\s*만\s*(\d{1,4})?\s*(원)?$")


def parse_amount(text: str | None, *, lo: int, hi: int) -> int:
    """An amount in 원: "20000", "20,000원", "2만원", "2만 5000원", "1.5만"."""
    if text is None or not text.strip():
        raise InputError("input.empty")
    if len(text) > 64:
        raise InputError("input.not_a_number")
    t = _normalize(text).replace(" ", "")
    t = re.sub(r"(원|krw|won)$", "", t, flags=re.IGNORECASE)
    m = _MAN.match(t)
    if m:
        man = Decimal(m.group(1)) * 10000
        if man != man.to_integral_value():
            raise InputError("input.not_whole")
        value = int(man) + int(m.group(2) or 0)
        if value < lo or value > hi:
            raise InputError("input.out_of_range", {"min": lo, "max": hi})
        return value
    return parse_int(t, lo=lo, hi=hi, what="amount")


_SCHEME_OK = {"http", "https"}
_TRACKING_PREFIXES = ("utm_",)
_TRACKING_KEYS = {"igshid", "igsh", "fbclid", "gclid", "si", "feature", "ref", "ref_src"}
_HOST_RE = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def parse_link(text: str | None) -> str:
    """An http(s) URL with a real host, normalized so equal jobs compare equal."""
    if text is None or not text.strip():
        raise InputError("link.empty")
    t = text.strip()
    if len(t) > MAX_LINK_CHARS:
        raise InputError("link.too_long", {"max": MAX_LINK_CHARS})
    if any(c.isspace() for c in t) or any(unicodedata.category(c) == "Cc" for c in t):
        raise InputError("link.invalid")
    if "://" not in t and re.match(r"^[\w.-]+\.[a-z]{2,}(/|$)", t, re.IGNORECASE):
        t = "https://" + t  # customers often paste "instagram.com/name"
    try:
        parts = urlsplit(t)
        port = parts.port
    except ValueError:
        raise InputError("link.invalid") from None
    if parts.scheme.lower() not in _SCHEME_OK:
        raise InputError("link.scheme")
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if host else host
    except UnicodeError:
        raise InputError("link.invalid") from None
    if host.startswith("www."):
        host = host[4:]  # before the check, so "www.x" cannot slip through as "x"
    if not host or not _HOST_RE.match(host) or parts.username or parts.password:
        raise InputError("link.invalid")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS
    ]
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    link = urlunsplit(("https" if parts.scheme.lower() == "https" else "http", netloc, path,
                       urlencode(query), ""))  # fmt: skip
    if len(link) > MAX_LINK_CHARS:  # re-encoding can grow the text (한 → %ED%95%9C)
        raise InputError("link.too_long", {"max": MAX_LINK_CHARS})
    return link


_USERNAME_RE = re.compile(r"^[A-Za-z0-9._]{1,30}$")
_PROFILE_HOSTS = ("instagram.com", "tiktok.com", "threads.net", "x.com", "twitter.com")


def parse_username(text: str | None) -> str:
    """``@name``, ``name`` or a profile URL → the bare username (lower-case)."""
    if text is None or not text.strip():
        raise InputError("username.empty")
    t = _normalize(text)
    if len(t) > MAX_LINK_CHARS:
        raise InputError("username.invalid")
    if "/" in t:  # a profile URL: take the first path segment
        try:
            parts = urlsplit(parse_link(t))
        except InputError:
            raise InputError("username.invalid") from None
        segments = [s for s in parts.path.split("/") if s]
        if not parts.hostname or not parts.hostname.endswith(_PROFILE_HOSTS) or not segments:
            raise InputError("username.invalid")
        t = segments[0]
    t = t.lstrip("@")
    if not _USERNAME_RE.match(t) or t.strip(".") == "":
        raise InputError("username.invalid")
    return t.lower()


def parse_comments(text: str | None, *, lo: int, hi: int) -> tuple[str, ...]:
    """One comment per non-empty line; the count must be within [lo, hi]."""
    if text is None or not text.strip():
        raise InputError("comments.empty")
    if len(text) > MAX_INPUT_CHARS * 4:
        raise InputError("comments.too_long", {"max": MAX_COMMENT_CHARS})
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    if any(len(line) > MAX_COMMENT_CHARS for line in lines):
        raise InputError("comments.too_long", {"max": MAX_COMMENT_CHARS})
    if len(lines) < lo or len(lines) > hi:
        raise InputError("comments.count", {"min": lo, "max": hi, "count": len(lines)})
    return lines


def parse_depositor(text: str | None) -> str:
    """The depositor name as it will appear on the bank statement."""
    if text is None or not text.strip():
        raise InputError("depositor.empty")
    t = _normalize(text)
    t = re.sub(r"\s+", " ", t)
    if len(t) > 30 or any(unicodedata.category(c)[0] in "CS" for c in t):
        raise InputError("depositor.invalid")
    if not re.search(r"[\w가-힣]", t):
        raise InputError("depositor.invalid")
    return t
