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
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LabeledPrice,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    Job,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from chat import dialog as dialog_module
from chat.dialog import Dialog
from chat.i18n import t
from chat.screens import TELEGRAM, Screen
from chat.topup import STARS_CURRENCY, payload_amount
from chat.turns import Command, Event, Invoice, Media, Paid, Reply, Tap, Text, Turn
from handlers.common import Context, customer, lang, shop_of

log = logging.getLogger(__name__)

STATE_KEY = "chat"
IDLE_JOBS = "chat-idle-jobs"  # bot_data key (bot_data is not persisted)
CAPS = TELEGRAM
COMMANDS = ("start", "help", "order", "balance", "orders", "topup", "cancel")


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


async def render(
    bot: Bot,
    chat_id: int,
    reply: Reply,
    language: str,
    dialog: Dialog,
    query: CallbackQuery | None = None,
) -> None:
    """Show ``reply`` in ``chat_id`` (``query``: the tap it answers)."""
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
            markup = menu_markup(dialog, language)
        await bot.send_message(chat_id, screen.text, parse_mode=ParseMode.HTML,
                               reply_markup=markup)  # fmt: skip
    for effect in reply.effects:
        if isinstance(effect, Invoice):
            await bot.send_invoice(
                chat_id,
                title=effect.title,
                description=effect.description,
                payload=effect.payload,
                provider_token="",
                currency=effect.currency,
                prices=[LabeledPrice(effect.label, effect.amount)],
            )


# ---- driving ------------------------------------------------------------------------


async def run_turn(update: Update, context: Context, event: Event) -> Reply | None:
    """One customer turn through the shared conversation, shown in Telegram."""
    chat = update.effective_chat
    if chat is None or update.effective_user is None:
        return None
    user = await customer(update, context)
    language = lang(update)
    data = context.user_data if context.user_data is not None else {}
    dialog = dialog_of(context)
    turn = Turn(user, language, CAPS, data.get(STATE_KEY) or {}, event)
    reply = await dialog.handle(turn)
    data[STATE_KEY] = reply.state
    # Written now, not at PTB's next periodic flush: a process killed a second after the
    # customer's step must still know the step after its restart.
    persistence = context.application.persistence
    if persistence is not None and context.user_data is not None:
        await persistence.update_user_data(update.effective_user.id, context.user_data)
    await render(context.bot, chat.id, reply, language, dialog, update.callback_query)
    _watch_idle(context, update.effective_user.id, chat.id, language, reply.state)
    return reply


def _watch_idle(context: Context, user_id: int, chat_id: int, language: str, state: dict) -> None:
    """Telegram can speak first: when a flow stays idle, end it and say so."""
    queue = context.job_queue
    if queue is None:
        return
    # One pending job per customer, found by key: the queue's own lookup by name scans
    # every job, and there is one per customer in the middle of a flow.
    watching: dict[int, Job] = context.application.bot_data.setdefault(IDLE_JOBS, {})
    previous = watching.pop(user_id, None)
    if previous is not None:
        previous.schedule_removal()
    if state.get("flow"):
        watching[user_id] = queue.run_once(
            _idle, dialog_module.IDLE_SECONDS, name=f"chat-idle:{user_id}", user_id=user_id,
            chat_id=chat_id, data=(state.get("seq"), language))  # fmt: skip


async def _idle(context: Context) -> None:
    job = context.job
    if job is None or job.user_id is None or job.chat_id is None or context.user_data is None:
        return
    watching = context.application.bot_data.get(IDLE_JOBS, {})
    if watching.get(job.user_id) is job:
        del watching[job.user_id]
    seq, language = job.data
    state = context.user_data.get(STATE_KEY) or {}
    if state.get("seq") != seq:  # the customer did something since
        return
    user = await shop_of(context).users.by_telegram(job.user_id)
    dialog = dialog_of(context)
    reply = dialog.expire(user, language, CAPS, state) if user is not None else None
    if reply is None:
        return
    context.user_data[STATE_KEY] = reply.state
    try:
        await render(context.bot, job.chat_id, reply, language, dialog)
    except TelegramError as exc:  # blocked meanwhile, or Telegram unreachable: it can wait
        log.info("idle notice to %s not sent: %s", job.chat_id, exc)


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


# ---- Stars payments (Telegram sends them at any time, in or out of a flow) -----------


async def on_pre_checkout(update: Update, context: Context) -> None:
    query = update.pre_checkout_query
    assert query is not None
    amount = payload_amount(query.invoice_payload)
    ok = (
        amount is not None
        and query.currency == STARS_CURRENCY
        and await shop_of(context).topups.validate_stars_checkout(
            query.from_user.id, amount, query.total_amount
        )
    )
    if not ok:
        log.info("pre-checkout refused: %s %s", query.from_user.id, query.invoice_payload)
    try:
        if ok:
            await query.answer(ok=True)
        else:
            await query.answer(ok=False, error_message=t(lang(update), "topup.checkout_refused"))
    except BadRequest as exc:  # a redelivered query was already answered
        log.info("pre-checkout answer failed: %s", exc)
    raise ApplicationHandlerStop


async def on_paid(update: Update, context: Context) -> None:
    msg = update.effective_message
    assert msg is not None and msg.successful_payment is not None
    p = msg.successful_payment
    await run_turn(update, context, Paid(p.invoice_payload, p.currency, p.total_amount,
                                         p.telegram_payment_charge_id))  # fmt: skip
    raise ApplicationHandlerStop


def register(app: Application) -> None:
    """After the admin's handlers: whatever they did not take is a customer's turn.
    Payments run before everything (a customer mid-order must still be credited)."""
    app.add_handler(PreCheckoutQueryHandler(on_pre_checkout), group=-1)
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, on_paid), group=-1)
    app.add_handler(CommandHandler(list(COMMANDS), on_command))
    app.add_handler(CallbackQueryHandler(on_tap))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(
        MessageHandler(~filters.TEXT & ~filters.COMMAND & ~filters.SUCCESSFUL_PAYMENT, on_media)
    )
