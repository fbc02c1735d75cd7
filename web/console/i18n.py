"""The console's texts: one TOML catalog per language (ko first, en).

``t()`` returns plain text; the templates escape everything they print, so a parameter
can never become markup.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

LANGS = ("ko", "en")
DEFAULT = "ko"


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalog(lang: str) -> dict[str, str]:
    text = resources.files("web.console").joinpath("locales", f"{lang}.toml").read_text("utf-8")
    out: dict[str, str] = {}
    _flatten("", tomllib.loads(text), out)
    return out


def _param(name: str, value: Any) -> Any:
    # Amounts and counts get thousands separators; ids ("id", "panel_id"…) never do.
    if isinstance(value, int) and not isinstance(value, bool) and not name.endswith("id"):
        return f"{value:,}"
    return value


def t(lang: str, key: str, **params: Any) -> str:
    texts = catalog(lang if lang in LANGS else DEFAULT)
    template = texts.get(key) or catalog(DEFAULT).get(key)
    if template is None:
        raise KeyError(key)
    return template.format_map({k: _param(k, v) for k, v in params.items()})


def label(lang: str, key: str, fallback: str) -> str:
    """The text for ``key`` if the catalog has one, else ``fallback`` (e.g. an event name
    the console has no words for yet)."""
    texts = catalog(lang if lang in LANGS else DEFAULT)
    return texts[key] if key in texts else fallback


def pick(accept_language: str | None) -> str:
    """ko unless the browser prefers English over Korean."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()
        if code.startswith("ko"):
            return "ko"
        if code.startswith("en"):
            return "en"
    return DEFAULT
