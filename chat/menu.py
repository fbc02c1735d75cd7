"""The main menu: seven entries, shown by every front (Telegram: a reply keyboard whose
labels come back as typed text; Kakao: quick replies carrying ``m:<key>``)."""

from __future__ import annotations

import unicodedata

from chat.i18n import LANGS, t
from chat.screens import Capabilities, Choice

MENU_KEYS = ("order", "topup", "orders", "account", "faq", "terms", "support")
# Typed words that take a customer home from anywhere (Kakao has no /start).
HOME_WORDS = frozenset({"시작", "메뉴", "처음", "처음으로", "홈", "start", "menu", "home"})
# Typed words that drop the flow in progress (a draft costs nothing), like its ✖ button.
CANCEL_WORDS = frozenset({"취소", "주문취소", "그만", "cancel", "stop"})


def main_menu(lang: str, caps: Capabilities) -> list[list[Choice]]:
    choices = [Choice(t(lang, f"menu.{k}"), f"m:{k}") for k in MENU_KEYS]
    rows, i = [], 0
    for width in caps.main_menu_rows:
        if i < len(choices):
            rows.append(choices[i : i + width])
            i += width
    if i < len(choices):
        rows.append(choices[i:])
    return rows


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


_LABELS = {_norm(t(lg, f"menu.{k}")): k for lg in LANGS for k in MENU_KEYS}


def menu_key(text: str) -> str | None:
    """The menu entry a typed label names, in any language (or None)."""
    return _LABELS.get(_norm(text))


def is_home_word(text: str) -> bool:
    return _norm(text).lstrip("/") in HOME_WORDS


def is_cancel_word(text: str) -> bool:
    return _norm(text).lstrip("/").replace(" ", "") in CANCEL_WORDS
