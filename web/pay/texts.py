"""The pay pages' words: one catalog per language (web/pay/locales/{ko,en}.toml).

``t`` HTML-escapes every parameter (quotes too: a value may end up in an attribute);
templates themselves are plain text and are escaped as well.
"""

from __future__ import annotations

import html
import tomllib
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

LANGS = ("ko", "en")


@cache
def catalog(lang: str) -> dict[str, str]:
    text = resources.files("web.pay").joinpath("locales", f"{lang}.toml").read_text("utf-8")
    return {k: str(v) for k, v in tomllib.loads(text).items()}


def lang_of(code: str | None) -> str:
    return code if code in LANGS else "ko"


def t(lang: str, key: str, **params: Any) -> str:
    """Escaped HTML text for ``key``; params are escaped before they are filled in."""
    template = html.escape(catalog(lang_of(lang))[key])
    return template.format_map({k: html.escape(str(v)) for k, v in params.items()})


def money(lang: str, amount: int) -> str:
    return f"₩{amount:,}" if lang_of(lang) == "en" else f"{amount:,}원"


def when(lang: str, moment: datetime) -> str:
    if lang_of(lang) == "en":
        return moment.strftime("%H:%M (%b %d)")
    return f"{moment.month}월 {moment.day}일 {moment:%H:%M}"
