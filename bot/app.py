"""Assembly: config → shop → PTB Application. Used by ``run``, ``demo`` and the tests."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from telegram import BotCommand, Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.warnings import PTBUserWarning

from bot.config import Config, require_token
from bot.persistence import SQLitePersistence
from bot.processor import PerUserUpdateProcessor
from fulfillment.client import PanelClient
from handlers import register_all
from handlers.i18n import t
from shop.clock import Clock, SystemClock
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

log = logging.getLogger(__name__)

# Our conversations mix message and button steps on purpose (per user and chat, not per
# message); PTB warns about that combination at every start-up.
warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=PTBUserWarning)

COMMANDS = ("start", "order", "balance", "orders", "topup", "help", "cancel")


def shop_settings(config: Config) -> ShopSettings:
    return ShopSettings(
        name=config.shop.name,
        exchange_rate=config.shop.exchange_rate,
        markup_percent=config.shop.markup_percent,
        new_services_visible=config.shop.new_services_visible,
        quote_ttl_minutes=config.shop.quote_ttl_minutes,
        admin_ids=tuple(config.telegram.admin_ids),
        notify_started=config.scheduler.notify_started,
        poll_interval_seconds=config.scheduler.poll_interval_seconds,
        not_started_alert_hours=config.scheduler.not_started_alert_hours,
        panel_balance_alert_below=config.scheduler.panel_balance_alert_below,
        topup_min=config.topup.min_amount,
        topup_max=config.topup.max_amount,
        topup_expire_hours=config.topup.expire_hours,
        krw_per_star=config.topup.krw_per_star,
        timezone=config.support.timezone,
        support_phone=config.support.phone,
        support_kakao_url=config.support.kakao_url,
        bank_account=config.topup.bank_account,
    )


@dataclass
class ShopRuntime:
    """The shop and the resources it owns; ``close`` releases them."""

    shop: Shop
    db: Database
    panel: PanelClient
    closers: list[Callable] = field(default_factory=list)

    async def close(self) -> None:
        await self.panel.aclose()
        await self.db.close()


async def open_shop(
    config: Config,
    *,
    clock: Clock | None = None,
    panel_transport: httpx.AsyncBaseTransport | None = None,
) -> ShopRuntime:
    db = await Database(config.storage.path).open()
    panel = PanelClient(
        config.provider.url,
        config.provider.key.get_secret_value(),
        timeout=config.provider.timeout_seconds,
        transport=panel_transport,
    )
    ctx = ShopContext(
        db=db, panel=panel, settings=shop_settings(config), clock=clock or SystemClock()
    )
    return ShopRuntime(Shop(ctx), db, panel)


async def _set_commands(app: Application) -> None:
    for lang in ("ko", "en"):
        commands = [BotCommand(c, t(lang, f"commands.{c}")) for c in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=lang)
    await app.bot.set_my_commands([BotCommand(c, t("ko", f"commands.{c}")) for c in COMMANDS])


async def start_bot(app: Application, *, poll_timeout: int = 30) -> None:
    """Initialize, register commands, run start-up jobs, then long-poll.

    (``post_init`` only runs under ``run_polling``; we own the loop, so do it here.)
    """
    await app.initialize()
    await _set_commands(app)
    hook = app.bot_data.get("on_start")
    if hook is not None:
        await hook(app)
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
    schedule: bool = True,
) -> Application:
    """The PTB Application for ``shop``; the caller owns the shop's lifecycle."""
    builder = (
        ApplicationBuilder()
        .token(require_token(config))
        .base_url(config.telegram.base_url)
        .concurrent_updates(PerUserUpdateProcessor(256))
        .get_updates_read_timeout(35)
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
    if schedule:
        from bot.jobs import schedule_jobs

        schedule_jobs(app, config)
    return app


async def _on_error(update: object, context) -> None:
    log.error("unhandled error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        from handlers.common import lang

        try:
            await update.effective_chat.send_message(t(lang(update), "common.error"))
        except Exception:  # the error message itself must never raise further
            log.debug("could not tell the customer about the error", exc_info=True)
