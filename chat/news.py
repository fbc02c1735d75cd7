"""News for a customer (and alerts for admins) as screens: outbox events rendered in the
recipient's language at send time from the stored facts. Pure: no I/O.

Used by every front's sender (Telegram: bot/notifier.py through handlers/notify_render.py;
Kakao: its Event API sender or the next-message delivery).
"""

from __future__ import annotations

from typing import Any

from chat.i18n import Safe, t
from chat.screens import Choice, Screen


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


def render(event: str, payload: dict[str, Any]) -> Screen:
    """The screen for one outbox event; raises KeyError for an unknown event."""
    lang = payload.get("lang", "ko")
    params = _params(payload)
    if event == "broadcast":
        # The admin's text was HTML-escaped when the broadcast was confirmed.
        params["text"] = Safe(payload["text"])
    if event == "admin_topup" and "who" not in params:
        # queued by a version before customers had fronts: a Telegram customer
        params["who"] = f"telegram {payload.get('telegram_id') or '?'}"
    if event == "admin_topup_decided":
        params["status"] = t(lang, f"admin.topup_status_{payload['status']}")
    text = t(lang, f"notify.{event}", **params)
    if event == "admin_topup_decided" and payload.get("reason"):
        text += "\n" + t(lang, "admin.reason_line", reason=payload["reason"])
    return Screen(text, _rows(event, lang, payload), kind=f"news.{event}")


def _rows(event: str, lang: str, payload: dict[str, Any]) -> tuple[tuple[Choice, ...], ...]:
    if event == "order_late":
        return ((Choice(t(lang, "notify.cancel_button"), f"h:c:{payload['order_id']}"),),)
    if event in ("order_completed", "order_partial") and payload.get("order_id") is not None:
        return ((Choice(t(lang, "history.open", id=str(payload["order_id"])),
                        f"h:o:{payload['order_id']}"),),)  # fmt: skip
    if event == "admin_topup":
        tid = payload["topup_id"]
        return (
            (
                Choice(t(lang, "notify.approve_button"), f"a:tp:ok:{tid}"),
                Choice(t(lang, "notify.reject_button"), f"a:tp:no:{tid}"),
            ),
        )
    return ()
