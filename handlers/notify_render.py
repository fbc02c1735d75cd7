"""Pure rendering of outbox events: (event, payload) → (HTML text, inline keyboard).

Shared by bot/notifier.py and by handlers that re-show a notification (e.g. the admin
top-up card). No I/O here.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup

from chat.i18n import Safe, t
from handlers.common import button, inline


def _params(payload: dict[str, Any]) -> dict[str, Any]:
    # Ids are names, not amounts: no thousands commas ("#1234", not "#1,234").
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "lang":
            continue
        if value is None:
            value = "-"
        elif key.endswith("_id") or key == "id":
            value = str(value)
        out[key] = value
    return out


def render(event: str, payload: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and buttons for one outbox event; raises KeyError for an unknown event."""
    lang = payload.get("lang", "ko")
    params = _params(payload)
    if event == "broadcast":
        # The admin's text was HTML-escaped when the broadcast was confirmed.
        params["text"] = Safe(payload["text"])
    text = t(lang, f"notify.{event}", **params)
    return text, _markup(event, lang, payload)


def _markup(event: str, lang: str, payload: dict[str, Any]) -> InlineKeyboardMarkup | None:
    if event == "order_late":
        return inline([[button(t(lang, "notify.cancel_button"), "h", "c", payload["order_id"])]])
    if event == "admin_topup":
        tid = payload["topup_id"]
        return inline(
            [
                [
                    button(t(lang, "notify.approve_button"), "a", "tp", "ok", tid),
                    button(t(lang, "notify.reject_button"), "a", "tp", "no", tid),
                ]
            ]
        )
    return None
