"""Scheduler wiring (PTB JobQueue over APScheduler); the logic lives in shop/.

Every job runs as an asyncio task on the bot's loop: panel calls are awaited outside any
transaction, so a slow panel never blocks replies. A job never overlaps itself
(max_instances=1, coalesce) and never takes the app down (exceptions are logged).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import Application, ContextTypes

from bot.config import Config
from bot.notifier import OutboxSender
from shop.jobs import ShopJobs
from shop.shop import Shop

log = logging.getLogger(__name__)

JOB_KWARGS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
OUTBOX_PERIOD = 1.0
BALANCE_PERIOD = 3600.0
TOPUP_EXPIRY_PERIOD = 600.0
QUOTE_PURGE_PERIOD = 86400.0


def _shop(app: Application) -> Shop:
    return app.bot_data["shop"]


def sender_of(app: Application) -> OutboxSender:
    """The app's one outbox sender (created on first use)."""
    sender = app.bot_data.get("outbox_sender")
    if sender is None:
        sender = OutboxSender(ShopJobs(_shop(app).ctx), app.bot)
        app.bot_data["outbox_sender"] = sender
    return sender


# ---- job bodies (callable directly by tests) ----------------------------------------------


async def run_startup(app: Application) -> None:
    """Recovery first (before polling starts), then a catalog sync that may fail."""
    shop = _shop(app)
    report = await shop.orders.recover()
    log.info("start-up recovery: %s", report)
    try:
        log.info("start-up catalog sync: %s", await shop.catalog.sync())
    except Exception:
        log.exception("start-up catalog sync failed; the next scheduled sync retries")


async def run_poll(app: Application) -> None:
    shop = _shop(app)
    report = await shop.fulfilment.poll_once()
    # Quiet when nothing happened: the demo polls every few seconds.
    level = logging.INFO if report.polled or report.outage else logging.DEBUG
    log.log(level, "status poll: %s", report)
    await shop.fulfilment.poll_refills()
    await shop.fulfilment.alert_not_started()
    _kick_outbox(app)


async def run_outbox(app: Application) -> int:
    return await sender_of(app).drain()


async def run_catalog_sync(app: Application) -> None:
    log.info("catalog sync: %s", await _shop(app).catalog.sync())


async def run_panel_balance(app: Application) -> None:
    await ShopJobs(_shop(app).ctx).check_panel_balance()
    _kick_outbox(app)


async def run_topup_expiry(app: Application) -> None:
    expired = await _shop(app).topups.expire_old()
    if expired:
        log.info("expired %d pending top-ups", expired)
        _kick_outbox(app)


async def run_quote_purge(app: Application) -> None:
    log.info("purged %d expired quotes", await ShopJobs(_shop(app).ctx).purge_quotes())


def _kick_outbox(app: Application) -> None:
    """Send what the last job queued now instead of at the next outbox tick."""
    if app.job_queue is not None and app.running:
        app.job_queue.run_once(_guarded(run_outbox), 0, name="outbox-kick")


# ---- wiring ------------------------------------------------------------------------------


def _guarded(
    body: Callable[[Application], Awaitable[Any]],
) -> Callable[[ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    async def job(context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await body(context.application)
        except Exception:
            log.exception("scheduled job %s failed; it runs again next time", body.__name__)

    job.__name__ = body.__name__
    return job


def schedule_jobs(app: Application, config: Config) -> None:
    app.bot_data["on_start"] = run_startup
    jq = app.job_queue
    if jq is None:
        log.error("no JobQueue (install python-telegram-bot[job-queue]); nothing is scheduled")
        return
    sched = config.scheduler
    sync_every = sched.catalog_sync_interval_seconds
    plan: list[tuple[Callable[[Application], Awaitable[Any]], float, float]] = [
        (run_poll, sched.poll_interval_seconds, min(5.0, sched.poll_interval_seconds)),
        (run_outbox, OUTBOX_PERIOD, 1),
        (run_catalog_sync, sync_every, sync_every),
        (run_panel_balance, BALANCE_PERIOD, 30),
        (run_topup_expiry, TOPUP_EXPIRY_PERIOD, 60),
        (run_quote_purge, QUOTE_PURGE_PERIOD, 300),
    ]
    for body, interval, first in plan:
        jq.run_repeating(
            _guarded(body), interval=interval, first=first, name=body.__name__,
            job_kwargs=JOB_KWARGS,
        )  # fmt: skip
