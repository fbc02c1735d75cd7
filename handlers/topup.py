"""잔액충전: bank transfer (admin approves) and Telegram Stars, in chat.

Callback data: ``t:menu``, ``t:bank``, ``t:stars``, ``t:wd:<id>`` (withdraw), ``t:done``.
The money-safe work (compare-and-set, unique ledger keys) is in shop/topups.py.
"""

from __future__ import annotations

import logging

from telegram import LabeledPrice, Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from chat.i18n import t
from handlers.common import (
    Context,
    answer,
    button,
    customer,
    inline,
    lang,
    main_menu,
    menu_pattern,
    reply,
    shop_of,
    show,
)
from shop.parsing import InputError, parse_amount, parse_depositor
from shop.topups import Decision, Topup

log = logging.getLogger(__name__)

CHOOSE, BANK_AMOUNT, DEPOSITOR, RECEIPT, STARS_AMOUNT = range(5)
TIMEOUT_SECONDS = 15 * 60
DRAFT = "topup"


def _error(lg: str, exc: InputError) -> str:
    return t(lg, exc.code, **exc.params)


def _pending_lines(lg: str, pending: list[Topup]) -> str:
    return "\n".join(
        t(lg, "topup.pending_line", id=p.id, amount=p.amount, depositor=p.depositor or "")
        for p in pending
    )


async def menu(update: Update, context: Context) -> int:
    await answer(update)
    user = await customer(update, context)
    shop = shop_of(context)
    lg = lang(update)
    context.user_data.pop(DRAFT, None)
    pending = [p for p in await shop.topups.pending(user.id) if p.method == "bank"]
    text = t(lg, "topup.menu", balance=user.balance)
    if pending:
        text += "\n\n" + t(lg, "topup.pending_title") + "\n" + _pending_lines(lg, pending)
    rows = [[button(t(lg, "topup.bank"), "t", "bank")]]
    if shop.settings.krw_per_star:
        rows.append([button(t(lg, "topup.stars"), "t", "stars")])
    rows += [[button(t(lg, "topup.withdraw", id=p.id), "t", "wd", p.id)] for p in pending]
    await show(update, text, inline(rows))
    return CHOOSE


def _limits(context: Context) -> dict[str, int]:
    s = shop_of(context).settings
    return {"min": s.topup_min, "max": s.topup_max}


async def ask_bank_amount(update: Update, context: Context) -> int:
    await answer(update)
    await show(update, t(lang(update), "topup.ask_amount", **_limits(context)))
    return BANK_AMOUNT


async def ask_stars_amount(update: Update, context: Context) -> int:
    await answer(update)
    s = shop_of(context).settings
    if not s.krw_per_star:
        return await menu(update, context)
    await show(update, t(lang(update), "topup.ask_stars_amount", rate=s.krw_per_star,
                         **_limits(context)))  # fmt: skip
    return STARS_AMOUNT


def _parse_amount(context: Context, text: str | None) -> int:
    lim = _limits(context)
    return parse_amount(text, lo=lim["min"], hi=lim["max"])


async def got_bank_amount(update: Update, context: Context) -> int:
    lg = lang(update)
    try:
        amount = _parse_amount(context, update.effective_message.text)
    except InputError as exc:
        await reply(update, _error(lg, exc) + "\n\n" + t(lg, "topup.ask_amount",
                                                          **_limits(context)))  # fmt: skip
        return BANK_AMOUNT
    context.user_data[DRAFT] = {"amount": amount}
    await reply(update, t(lg, "topup.ask_depositor", amount=amount))
    return DEPOSITOR


async def got_depositor(update: Update, context: Context) -> int:
    lg = lang(update)
    draft = context.user_data.get(DRAFT) or {}
    amount = draft.get("amount")
    if not isinstance(amount, int):
        return await menu(update, context)
    try:
        name = parse_depositor(update.effective_message.text)
    except InputError as exc:
        await reply(update, _error(lg, exc) + "\n\n" + t(lg, "topup.ask_depositor", amount=amount))
        return DEPOSITOR
    user = await customer(update, context)
    shop = shop_of(context)
    try:
        topup = await shop.topups.request_bank(user.id, amount, name)
    except InputError as exc:
        context.user_data.pop(DRAFT, None)
        await reply(update, _error(lg, exc), main_menu(lg))
        return ConversationHandler.END
    context.user_data[DRAFT] = {"receipt_for": topup.id}
    account = shop.settings.bank_account or t(lg, "topup.no_account")
    text = t(lg, "topup.requested", id=topup.id, amount=amount, depositor=name,
             account=account, hours=shop.settings.topup_expire_hours)  # fmt: skip
    markup = inline([[button(t(lg, "topup.skip_receipt"), "t", "done")]])
    await reply(update, text, markup)
    return RECEIPT


async def got_receipt(update: Update, context: Context) -> int:
    lg = lang(update)
    draft = context.user_data.pop(DRAFT, None) or {}
    topup_id = draft.get("receipt_for")
    photo = update.effective_message.photo
    user = await customer(update, context)
    ok = bool(topup_id and photo) and await shop_of(context).topups.attach_receipt(
        user.id, int(topup_id), photo[-1].file_id
    )
    await reply(update, t(lg, "topup.receipt_ok" if ok else "topup.receipt_late"), main_menu(lg))
    return ConversationHandler.END


async def done(update: Update, context: Context) -> int:
    await answer(update)
    context.user_data.pop(DRAFT, None)
    await reply(update, t(lang(update), "topup.done"), main_menu(lang(update)))
    return ConversationHandler.END


async def withdraw(update: Update, context: Context) -> int | None:
    lg = lang(update)
    topup_id = int(update.callback_query.data.split(":")[2])
    user = await customer(update, context)
    result = await shop_of(context).topups.withdraw(user.id, topup_id)
    if result.decision == Decision.DONE:
        await answer(update, t(lg, "topup.withdrawn", id=topup_id))
    else:
        await answer(update, t(lg, "topup.withdraw_too_late"), alert=True)
    return await menu(update, context)


async def got_stars_amount(update: Update, context: Context) -> int:
    lg = lang(update)
    shop = shop_of(context)
    try:
        amount = _parse_amount(context, update.effective_message.text)
        stars = shop.topups.stars_for(amount)
    except InputError as exc:
        await reply(update, _error(lg, exc) + "\n\n" + t(lg, "topup.ask_stars_amount",
                    rate=shop.settings.krw_per_star or 0, **_limits(context)))  # fmt: skip
        return STARS_AMOUNT
    await update.effective_chat.send_invoice(
        title=t(lg, "topup.invoice_title"),
        description=t(lg, "topup.invoice_description", amount=amount, stars=stars),
        payload=f"topup:{amount}",
        provider_token="",
        currency="XTR",
        prices=[LabeledPrice(t(lg, "topup.invoice_label", amount=amount), stars)],
    )
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    context.user_data.pop(DRAFT, None)
    await reply(update, t(lang(update), "common.cancelled"), main_menu(lang(update)))
    return ConversationHandler.END


async def timed_out(update: Update, context: Context) -> None:
    context.user_data.pop(DRAFT, None)
    if update is not None and update.effective_chat is not None:
        await reply(update, t(lang(update), "topup.timeout"))


# ---- Stars payments (outside the conversation: Telegram sends them any time) ---------


def _payload_amount(payload: str) -> int | None:
    prefix, _, amount = payload.partition(":")
    return int(amount) if prefix == "topup" and amount.isdigit() else None


async def pre_checkout(update: Update, context: Context) -> None:
    query = update.pre_checkout_query
    amount = _payload_amount(query.invoice_payload)
    ok = (
        amount is not None
        and query.currency == "XTR"
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


def back_to_order_markup(lg: str, user_data: dict) -> object | None:
    """A button back to the confirmation card that lacked balance (order feature)."""
    draft = user_data.get("order")
    token = draft.get("token") if isinstance(draft, dict) else None
    if not isinstance(token, str) or not token:
        return None
    return inline([[button(t(lg, "topup.back_to_order"), "o", "card", token)]])


async def paid(update: Update, context: Context) -> None:
    payment = update.effective_message.successful_payment
    amount = _payload_amount(payment.invoice_payload)
    if amount is None or payment.currency != "XTR":
        log.error("unexpected successful_payment payload %r", payment.invoice_payload)
        raise ApplicationHandlerStop
    user = await customer(update, context)
    result = await shop_of(context).topups.credit_stars(
        user.id, amount, payment.total_amount, payment.telegram_payment_charge_id
    )
    if result.decision == Decision.DONE:
        lg = lang(update)
        text = t(lg, "topup.stars_credited", amount=amount, balance=result.balance or 0)
        await reply(update, text, back_to_order_markup(lg, context.user_data))
    else:
        log.info("payment %s delivered again; nothing credited", payment.telegram_payment_charge_id)
    raise ApplicationHandlerStop


def register(app: Application) -> None:
    text = filters.TEXT & ~filters.COMMAND
    conv = ConversationHandler(
        name="topup",
        persistent=True,
        allow_reentry=True,
        conversation_timeout=TIMEOUT_SECONDS,
        entry_points=[
            MessageHandler(filters.Regex(menu_pattern("topup")), menu),
            CommandHandler("topup", menu),
            CallbackQueryHandler(menu, pattern=r"^t:menu$"),
        ],
        states={
            CHOOSE: [
                CallbackQueryHandler(ask_bank_amount, pattern=r"^t:bank$"),
                CallbackQueryHandler(ask_stars_amount, pattern=r"^t:stars$"),
                CallbackQueryHandler(withdraw, pattern=r"^t:wd:\d+$"),
            ],
            BANK_AMOUNT: [MessageHandler(text & ~filters.Regex(_any_menu()), got_bank_amount)],
            DEPOSITOR: [MessageHandler(text & ~filters.Regex(_any_menu()), got_depositor)],
            RECEIPT: [
                MessageHandler(filters.PHOTO, got_receipt),
                CallbackQueryHandler(done, pattern=r"^t:done$"),
            ],
            STARS_AMOUNT: [MessageHandler(text & ~filters.Regex(_any_menu()), got_stars_amount)],
            ConversationHandler.TIMEOUT: [MessageHandler(filters.ALL, timed_out)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
    )
    app.add_handler(conv)
    # Outside the conversation too: the pending list can be shown again later.
    app.add_handler(CallbackQueryHandler(withdraw, pattern=r"^t:wd:\d+$"))
    app.add_handler(CallbackQueryHandler(done, pattern=r"^t:done$"))
    # Payments run before every conversation: a customer in the middle of an order
    # must still be credited, and nothing else may answer the update.
    app.add_handler(PreCheckoutQueryHandler(pre_checkout), group=-1)
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, paid), group=-1)


def _any_menu() -> str:
    from chat.menu import MENU_KEYS

    return "|".join(menu_pattern(k) for k in MENU_KEYS)
