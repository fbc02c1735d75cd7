"""Server-rendered pages: Jinja2 with autoescaping on for every template, so every value
printed is HTML-escaped unless the code marks it safe (only the charts' JSON, which is
escaped for its <script> context here)."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

PACKAGE_DIR = Path(str(resources.files("web.console")))
STATIC_DIR = PACKAGE_DIR / "static"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("web.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda n: "" if n is None else f"{n:,}"
    env.filters["signed"] = lambda n: f"{n:+,}"
    env.filters["pretty_json"] = pretty_json
    env.globals["qs"] = query_string
    return env


def query_string(**params: Any) -> str:
    """``?a=1&b=2`` from the non-empty params (for tabs and paging links)."""
    kept = {k: v for k, v in params.items() if v not in (None, "", 0, "all") or k == "page"}
    kept = {k: v for k, v in kept.items() if not (k == "page" and not v)}
    return "?" + urlencode(kept) if kept else "?"


def pretty_json(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_short(v)}" for k, v in value.items())
    return _short(value)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def script_json(data: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' survives."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # escaped for the script context just above


class Clock:
    """Stored UTC text → the shop's local time, as the owner reads it."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)

    def __call__(self, stamp: str | None, seconds: bool = False) -> str:
        if not stamp:
            return ""
        try:
            when = datetime.fromisoformat(stamp).astimezone(self.tz)
        except ValueError:
            return stamp
        return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class StaticFile:
    path: Path
    media_type: str
    version: str


def static_files() -> dict[str, StaticFile]:
    """Every file the console serves, by name: a fixed list, so no path is ever joined
    from a request."""
    found: dict[str, StaticFile] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if not path.is_file() or path.suffix not in (".js", ".css", ".md", ".svg"):
            continue
        name = path.relative_to(STATIC_DIR).as_posix()
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".md":
            media = "text/plain"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        found[name] = StaticFile(path, media + "; charset=utf-8", digest)
    return found
