"""A customer sending more than ~5 updates a second is slowed down, not served twice."""

from __future__ import annotations

import asyncio
import time

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from handlers.common import Context, lang, reply
from handlers.i18n import t

RATE = 5.0  # updates per second
BURST = 5.0
MAX_DELAY = 2.0  # beyond this the update is dropped (with one notice)


class Bucket:
    __slots__ = ("last", "noticed", "tokens")

    def __init__(self) -> None:
        self.tokens = BURST
        self.last = time.monotonic()
        self.noticed = 0.0

    def take(self) -> float:
        """Seconds to wait before this update may run (0 when within the rate)."""
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.last) * RATE)
        self.last = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / RATE


async def throttle(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    buckets: dict[int, Bucket] = context.bot_data.setdefault("throttle", {})
    bucket = buckets.setdefault(user.id, Bucket())
    wait = bucket.take()
    if wait <= 0:
        return
    if wait <= MAX_DELAY:
        # Updates of one customer run in sequence, so sleeping slows only this customer.
        await asyncio.sleep(wait)
        return
    bucket.tokens += 1  # a dropped update costs nothing
    now = time.monotonic()
    if now - bucket.noticed > 5:
        bucket.noticed = now
        await reply(update, t(lang(update), "common.too_fast"))
    raise ApplicationHandlerStop


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, throttle), group=-10)
