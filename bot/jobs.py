"""Scheduler wiring (APScheduler on the serving event loop); the logic lives in shop/.

The jobs belong to the shop, not to a front: a KakaoTalk-only shop polls the panel and
delivers news exactly like a Telegram one. Every job runs as an asyncio task on the
serving loop: panel calls are awaited outside any transaction, so a slow panel never
blocks replies. A job never overlaps itself (max_instances=1, coalesce) and never takes
the shop down (exceptions are logged).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config
from bot.notifier import OutboxSender
from bot.runtime import ShopRuntime
from shop.jobs import ShopJobs

log = logging.getLogger(__name__)

JOB_KWARGS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
OUTBOX_PERIOD = 1.0
BALANCE_PERIOD = 3600.0
TOPUP_EXPIRY_PERIOD = 600.0
QUOTE_PURGE_PERIOD = 86400.0

Body = Callable[[ShopRuntime], Awaitable[Any]]


def sender_of(rt: ShopRuntime) -> OutboxSender:
    """The Telegram front's outbox sender (attached by bot/serving.py)."""
    sender = rt.senders["telegram"]
    assert isinstance(sender, OutboxSender)
    return sender


# ---- job bodies (callable directly by tests) ----------------------------------------------


async def run_startup(rt: ShopRuntime) -> None:
    """Recovery first (before any front serves), then a catalog sync that may fail."""
    report = await rt.shop.orders.recover()
    log.info("start-up recovery: %s", report)
    try:
        log.info("start-up catalog sync: %s", await rt.shop.catalog.sync())
    except Exception:
        log.exception("start-up catalog sync failed; the next scheduled sync retries")


async def run_poll(rt: ShopRuntime) -> None:
    shop = rt.shop
    report = await shop.fulfilment.poll_once()
    # Quiet when nothing happened: the demo polls every few seconds.
    level = logging.INFO if report.polled or report.outage else logging.DEBUG
    log.log(level, "status poll: %s", report)
    await shop.fulfilment.poll_refills()
    await shop.fulfilment.alert_not_started()
    await shop.fulfilment.review_stuck()
    kick_outbox(rt)


async def run_outbox(rt: ShopRuntime) -> int:
    """Every front delivers its customers' due news; returns how many were sent."""
    sent = 0
    for sender in list(rt.senders.values()):
        sent += await sender.drain()
    return sent


async def run_catalog_sync(rt: ShopRuntime) -> None:
    log.info("catalog sync: %s", await rt.shop.catalog.sync())


async def run_panel_balance(rt: ShopRuntime) -> None:
    await ShopJobs(rt.shop.ctx).check_panel_balance()
    kick_outbox(rt)


async def run_topup_expiry(rt: ShopRuntime) -> None:
    expired = await rt.shop.topups.expire_old()
    if expired:
        log.info("expired %d pending top-ups", expired)
        kick_outbox(rt)


async def run_card_reconcile(rt: ShopRuntime) -> None:
    """Card checkouts left unsettled (a lost confirm answer, a crash, a missed redirect)."""
    report = await rt.shop.cards.reconcile()
    if report.credited:
        kick_outbox(rt)


async def run_quote_purge(rt: ShopRuntime) -> None:
    log.info("purged %d expired quotes", await ShopJobs(rt.shop.ctx).purge_quotes())


def kick_outbox(rt: ShopRuntime) -> None:
    """Send what the last job queued now instead of at the next outbox tick."""
    if rt.jobs is not None:
        rt.jobs.run_now(run_outbox)


# ---- wiring ------------------------------------------------------------------------------


class _OverlapIsExpected(logging.Filter):
    """A run skipped because the previous one is still going is the design (max_instances
    = 1): the outbox job ticks every second and a broadcast drains for minutes, which
    APScheduler would report as a WARNING every second."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_OVERLAP_FILTER = _OverlapIsExpected()


class Jobs:
    """The shop's periodic jobs on one AsyncIOScheduler, started and stopped with the shop."""

    def __init__(self, rt: ShopRuntime, config: Config) -> None:
        self.rt = rt
        self.config = config
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        logging.getLogger("apscheduler.scheduler").addFilter(_OVERLAP_FILTER)  # once: a set

    def plan(self) -> list[tuple[Body, float, float]]:
        """(body, every seconds, first run after seconds)."""
        sched = self.config.scheduler
        sync_every = sched.catalog_sync_interval_seconds
        soon = min(5.0, sched.poll_interval_seconds)
        card = [(run_card_reconcile, sched.poll_interval_seconds, soon)]
        return [
            (run_poll, sched.poll_interval_seconds, soon),
            *(card if self.config.card_enabled else []),
            (run_outbox, OUTBOX_PERIOD, 1),
            (run_catalog_sync, sync_every, sync_every),
            (run_panel_balance, BALANCE_PERIOD, 30),
            (run_topup_expiry, TOPUP_EXPIRY_PERIOD, 60),
            (run_quote_purge, QUOTE_PURGE_PERIOD, 300),
        ]

    def add(self, body: Body, every: float, first: float) -> None:
        """Schedule ``body`` every ``every`` seconds (features add their own jobs this way)."""
        self.scheduler.add_job(
            self._guarded(body), "interval", seconds=every, id=body.__name__,
            next_run_time=datetime.now(UTC) + timedelta(seconds=first), **JOB_KWARGS,
        )  # fmt: skip

    def start(self) -> None:
        for body, every, first in self.plan():
            self.add(body, every, first)
        self.rt.jobs = self
        self.scheduler.start()

    def run_now(self, body: Body) -> None:
        if self.scheduler.running:
            self.scheduler.add_job(self._guarded(body), "date", next_run_time=datetime.now(UTC))

    def shutdown(self) -> None:
        self.rt.jobs = None
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _guarded(self, body: Body) -> Callable[[], Awaitable[None]]:
        rt = self.rt

        async def job() -> None:
            try:
                await body(rt)
            except Exception:
                log.exception("scheduled job %s failed; it runs again next time", body.__name__)

        job.__name__ = job.__qualname__ = body.__name__  # APScheduler logs the qualname
        return job
