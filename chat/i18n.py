"""Message catalogs: one per language (ko first, en), loaded from TOML files per feature.

``t()`` HTML-escapes every string parameter, so user input can never become markup;
only ``Safe`` values (already-rendered HTML built from escaped parts) pass through.
"""

from __future__ import annotations

import html
import string
import tomllib
from functools import cache
from importlib import resources
from typing import Any

LANGS = ("ko", "en")
DEFAULT_LANG = "ko"


class Safe(str):
    """A string that is already valid Telegram HTML."""


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str], origin: str) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out, origin)
        elif full in out:
            raise ValueError(f"duplicate message key {full} in {origin}")
        else:
            out[full] = str(value)


@cache
def catalog(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    folder = resources.files("chat.locales").joinpath(lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            _flatten("", tomllib.loads(entry.read_text(encoding="utf-8")), out, entry.name)
    return out


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _render(value: Any) -> str:
    if isinstance(value, Safe):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value), quote=False)


def t(lang: str, key: str, **params: Any) -> str:
    """The text for ``key`` in ``lang`` with escaped parameters (ints get thousands commas)."""
    texts = catalog(lang if lang in LANGS else DEFAULT_LANG)
    template = texts.get(key) or catalog(DEFAULT_LANG)[key]
    return template.format_map({k: _render(v) for k, v in params.items()})


def lang_of(code: str | None) -> str:
    return "en" if (code or "").lower().startswith("en") else "ko"
