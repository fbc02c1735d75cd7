"""What every feature handler shares: the shop, the customer, the language, replies.

Handlers reach the shop through ``context.bot_data["shop"]`` (set by bot/app.py), never
import storage or fulfillment, and keep only JSON-able drafts in ``user_data`` (it is
persisted as JSON: use str keys).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from chat import menu as chat_menu
from chat.i18n import lang_of
from chat.screens import TELEGRAM
from shop.models import User
from shop.shop import Shop

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
MAX_CALLBACK_BYTES = 64


def shop_of(context: Context) -> Shop:
    return context.bot_data["shop"]


def lang(update: Update) -> str:
    user = update.effective_user
    return lang_of(user.language_code if user else None)


async def customer(update: Update, context: Context) -> User:
    """The shop's record of this Telegram user (created on first contact)."""
    tg = update.effective_user
    assert tg is not None
    return await shop_of(context).users.ensure(
        tg.id, tg.username, tg.first_name or "", tg.language_code
    )


def cb(*parts: object) -> str:
    """Callback data: short ASCII codes like ``o:svc:12``; never over Telegram's 64 bytes."""
    data = ":".join(str(p) for p in parts)
    if len(data.encode()) > MAX_CALLBACK_BYTES or not data.isascii():
        raise ValueError(f"callback data too long or not ASCII: {data!r}")
    return data


def button(text: str, *parts: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=cb(*parts))


def inline(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([r for r in rows if r])


def main_menu(language: str) -> ReplyKeyboardMarkup:
    rows = chat_menu.main_menu(language, TELEGRAM)
    return ReplyKeyboardMarkup(
        [[KeyboardButton(c.label) for c in row] for row in rows], resize_keyboard=True
    )


async def reply(update: Update, text: str, markup: Any = None) -> Message | None:
    """Answer in the chat the update came from (message or button press)."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the pressed message in place, or send a new one for a typed message."""
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            log.info("edit failed (%s); sending a new message", exc)
    await reply(update, text, markup)


async def answer(update: Update, text: str | None = None, alert: bool = False) -> None:
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text, show_alert=alert)
        except BadRequest as exc:  # a query older than Telegram's limit can't be answered
            log.debug("callback answer failed: %s", exc)
