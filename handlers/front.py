"""The Telegram front of the shared conversation (chat/): Update → event → Dialog → Reply →
Telegram messages.

Typed text (reply-keyboard labels included), commands, photos/stickers and taps on inline
buttons each become one chat event; the conversation state lives in ``user_data["chat"]``
(persisted as JSON by bot/persistence.py, so a restart resumes at the same step). A reply's
screens become messages: inline keyboards for choices, the main menu as a reply keyboard,
an edit in place when the screen may replace the tapped one, and the toast as the answer
to the callback query. Admins' own pages stay in handlers/admin.py.
"""

from __future__ import annotations

import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LabeledPrice,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from chat.dialog import Dialog
from chat.screens import TELEGRAM, Screen
from chat.turns import Command, Event, Invoice, Media, Reply, Tap, Text, Turn
from handlers.common import Context, customer, lang, shop_of

log = logging.getLogger(__name__)

STATE_KEY = "chat"
CAPS = TELEGRAM
COMMANDS = ("start", "help", "balance")


def dialog_of(context: Context) -> Dialog:
    dialog = context.bot_data.get("dialog")
    if dialog is None:
        dialog = context.bot_data["dialog"] = Dialog(shop_of(context))
    return dialog


# ---- rendering ------------------------------------------------------------------------


def inline_markup(screen: Screen) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(c.label, url=c.url)
            if c.url is not None
            else InlineKeyboardButton(c.label, callback_data=c.data)
            for c in row
        ]
        for row in screen.rows
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def menu_markup(dialog: Dialog, language: str) -> ReplyKeyboardMarkup:
    rows = dialog.main_menu(language, CAPS)
    return ReplyKeyboardMarkup(
        [[KeyboardButton(c.label) for c in row] for row in rows], resize_keyboard=True
    )


async def render(update: Update, context: Context, reply: Reply) -> None:
    """Show ``reply`` in the chat the update came from."""
    query = update.callback_query
    chat = update.effective_chat
    if query is not None:
        try:
            await query.answer(reply.toast, show_alert=reply.alert)
        except BadRequest as exc:  # a query older than Telegram's limit can't be answered
            log.debug("callback answer failed: %s", exc)
        if reply.clear_tapped and query.message is not None:
            try:
                await query.edit_message_reply_markup(None)
            except BadRequest:  # already edited (e.g. by the first of two taps)
                pass
    if chat is None:
        return
    language = lang(update)
    for i, screen in enumerate(reply.screens):
        markup = inline_markup(screen)
        if i == 0 and screen.replace and query is not None and query.message is not None:
            if markup is not None or not screen.menu:
                try:
                    await query.edit_message_text(
                        screen.text, parse_mode=ParseMode.HTML, reply_markup=markup
                    )
                    continue
                except BadRequest as exc:
                    if "not modified" in str(exc).lower():
                        continue
                    log.info("edit failed (%s); sending a new message", exc)
        if markup is None and screen.menu:
            markup = menu_markup(dialog_of(context), language)
        await chat.send_message(screen.text, parse_mode=ParseMode.HTML, reply_markup=markup)
    for effect in reply.effects:
        if isinstance(effect, Invoice):
            await chat.send_invoice(
                title=effect.title,
                description=effect.description,
                payload=effect.payload,
                provider_token="",
                currency=effect.currency,
                prices=[LabeledPrice(effect.label, effect.amount)],
            )


# ---- driving ------------------------------------------------------------------------


async def run_turn(update: Update, context: Context, event: Event) -> Reply:
    """One customer turn through the shared conversation, shown in Telegram."""
    user = await customer(update, context)
    data = context.user_data if context.user_data is not None else {}
    turn = Turn(user, lang(update), CAPS, data.get(STATE_KEY) or {}, event)
    reply = await dialog_of(context).handle(turn)
    data[STATE_KEY] = reply.state
    await render(update, context, reply)
    return reply


async def on_command(update: Update, context: Context) -> None:
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    name, _, args = msg.text.lstrip("/").partition(" ")
    await run_turn(update, context, Command(name.split("@")[0].lower(), args.strip()))


async def on_text(update: Update, context: Context) -> None:
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    await run_turn(update, context, Text(msg.text))


async def on_media(update: Update, context: Context) -> None:
    msg = update.effective_message
    if msg is None:
        return
    if msg.photo:
        await run_turn(update, context, Media("photo", msg.photo[-1].file_id))
    else:
        await run_turn(update, context, Media("sticker" if msg.sticker else "other"))


async def on_tap(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await run_turn(update, context, Tap(query.data or ""))


def register(app: Application) -> None:
    """After the admin's handlers: whatever they did not take is a customer's turn."""
    app.add_handler(CommandHandler(list(COMMANDS), on_command))
    app.add_handler(CallbackQueryHandler(on_tap))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(
        MessageHandler(~filters.TEXT & ~filters.COMMAND & ~filters.SUCCESSFUL_PAYMENT, on_media)
    )
