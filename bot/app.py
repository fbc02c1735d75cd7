"""The Telegram front's assembly: the PTB Application over a shop (bot/serving.py runs it)."""

from __future__ import annotations

import logging
import warnings

from telegram import BotCommand, Update
from telegram.error import NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.warnings import PTBUserWarning

from bot.config import Config, require_token
from bot.notifier import OutboxSender
from bot.persistence import SQLitePersistence
from bot.processor import PerUserUpdateProcessor
from bot.runtime import ShopRuntime
from bot.telegram_request import StatusRequest, describe_failure
from chat.i18n import t
from handlers import register_all
from handlers.throttle import Pacer
from shop.jobs import ShopJobs
from shop.shop import Shop

log = logging.getLogger(__name__)

# Our conversations mix message and button steps on purpose (per user and chat, not per
# message); PTB warns about that combination at every start-up.
warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=PTBUserWarning)

COMMANDS = ("start", "order", "balance", "orders", "topup", "help", "cancel")


def attach_telegram(rt: ShopRuntime, app: Application) -> None:
    """The Telegram front serves ``rt``: its outbox sender delivers Telegram customers' news
    and every admin alert."""
    rt.telegram = app
    rt.senders["telegram"] = OutboxSender(ShopJobs(rt.shop.ctx), app.bot)


async def _set_commands(app: Application) -> None:
    """The command menu is cosmetic: when Telegram fails or refuses it, serve without it
    (the commands still work when typed) rather than not serve at all."""
    try:
        for lang in ("ko", "en"):
            commands = [BotCommand(c, t(lang, f"commands.{c}")) for c in COMMANDS]
            await app.bot.set_my_commands(commands, language_code=lang)
        await app.bot.set_my_commands([BotCommand(c, t("ko", f"commands.{c}")) for c in COMMANDS])
    except NetworkError as exc:
        config = app.bot_data.get("config")
        where = config.telegram.base_url if isinstance(config, Config) else "(unknown)"
        log.warning(
            "command menu not registered, serving without it: %s", describe_failure(where, exc)
        )
    except TelegramError as exc:
        log.warning("command menu not registered, serving without it: %s", exc)


async def start_bot(app: Application, *, poll_timeout: int = 30) -> None:
    """Initialize, register commands, then long-poll (we own the loop, so no run_polling)."""
    await app.initialize()
    await _set_commands(app)
    await app.start()
    await app.updater.start_polling(
        poll_interval=0,
        timeout=poll_timeout,
        allowed_updates=["message", "callback_query", "pre_checkout_query"],
    )


async def stop_bot(app: Application) -> None:
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


def build_application(
    config: Config,
    shop: Shop,
    *,
    persistence: bool = True,
    rate_limiter: bool = True,
) -> Application:
    """The PTB Application for ``shop``; the caller owns the shop's lifecycle."""
    builder = (
        ApplicationBuilder()
        .token(require_token(config))
        .base_url(config.telegram.base_url)
        .concurrent_updates(PerUserUpdateProcessor(256, pace=Pacer().delay))
        .request(StatusRequest(connection_pool_size=256))
        .get_updates_request(StatusRequest(connection_pool_size=1, read_timeout=35))
    )
    if rate_limiter:
        # No pre-emptive overall cap: a 30/s bucket would queue every customer's replies
        # behind each other (measured: p99 10 s with 200 customers). Bulk sends are paced
        # by the outbox sender; a 429 from Telegram is still retried after retry_after.
        builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=0, max_retries=3))
    if persistence:
        builder = builder.persistence(SQLitePersistence(shop.ctx.db))
    app = builder.build()
    app.bot_data["shop"] = shop
    app.bot_data["config"] = config
    register_all(app)
    app.add_error_handler(_on_error)
    return app


async def _on_error(update: object, context) -> None:
    log.error("unhandled error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        from handlers.common import lang

        try:
            await update.effective_chat.send_message(t(lang(update), "common.error"))
        except Exception:  # the error message itself must never raise further
            log.debug("could not tell the customer about the error", exc_info=True)
