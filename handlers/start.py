"""/start, /help, the main menu's information pages (FAQ, terms, support)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from handlers.common import Context, customer, lang, main_menu, menu_pattern, reply, shop_of
from handlers.i18n import Safe, t


async def start(update: Update, context: Context) -> None:
    user = await customer(update, context)
    lg = lang(update)
    shop = shop_of(context)
    text = t(lg, "start.greeting", name=user.first_name or "고객", shop=shop.settings.name,
             balance=user.balance)  # fmt: skip
    await reply(update, text, main_menu(lg))


async def help_command(update: Update, context: Context) -> None:
    await reply(update, t(lang(update), "support.help"), main_menu(lang(update)))


async def faq(update: Update, context: Context) -> None:
    await reply(update, t(lang(update), "faq.text", shop=shop_of(context).settings.name))


async def terms(update: Update, context: Context) -> None:
    await reply(update, t(lang(update), "terms.text"))


def support_text(update: Update, context: Context) -> str:
    lg = lang(update)
    shop = shop_of(context)
    state = shop.support_state()
    when = state.next_open.strftime("%m/%d %H:%M")
    if state.open_now:
        status = t(lg, "support.open")
    elif state.reason == "lunch":
        status = t(lg, "support.closed_lunch", next=when)
    elif state.reason == "holiday":
        status = t(lg, "support.closed_holiday", holiday=state.holiday_name or "", next=when)
    else:
        status = t(lg, "support.closed", next=when)
    return t(lg, "support.text", status=Safe(status), phone=shop.settings.support_phone,
             kakao=shop.settings.support_kakao_url)  # fmt: skip


async def support(update: Update, context: Context) -> None:
    await reply(update, support_text(update, context))


async def fallback_text(update: Update, context: Context) -> None:
    """Anything typed outside a conversation: show the menu again."""
    await reply(update, t(lang(update), "common.unknown"), main_menu(lang(update)))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("faq")), faq))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("terms")), terms))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("support")), support))


def register_fallback(app: Application) -> None:
    """Registered last in group 0, so it answers only what no feature took."""
    app.add_handler(MessageHandler(filters.ALL & ~filters.COMMAND, fallback_text))
