"""Scheduler wiring (PTB JobQueue over APScheduler); the logic lives in shop/."""

from __future__ import annotations

import logging

from telegram.ext import Application

from bot.config import Config

log = logging.getLogger(__name__)


async def _startup(app: Application) -> None:
    shop = app.bot_data["shop"]
    report = await shop.orders.recover()
    log.info("start-up recovery: %s", report)


def schedule_jobs(app: Application, config: Config) -> None:
    app.bot_data["on_start"] = _startup
