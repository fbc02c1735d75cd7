"""Outbox events as Telegram messages: chat/news.py's screen → (HTML text, inline keyboard).

Used by bot/notifier.py (and the crash harness). No I/O here.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup

from chat.news import render as render_screen
from handlers.front import inline_markup


def render(event: str, payload: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and buttons for one outbox event; raises KeyError for an unknown event."""
    screen = render_screen(event, payload)
    return screen.text, inline_markup(screen)
