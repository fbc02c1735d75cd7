"""A customer sending more than ~5 updates a second is slowed down, not served twice.

One customer's updates already run one after another (bot/processor.py), so pacing them
here delays only that customer: a flood is served at the allowed rate, each update once,
while everyone else is answered as usual.
"""

from __future__ import annotations

import asyncio
import time

from telegram import Update
from telegram.ext import Application, TypeHandler

from handlers.common import Context

RATE = 5.0  # updates per second
BURST = 5.0


class Bucket:
    __slots__ = ("last", "tokens")

    def __init__(self) -> None:
        self.tokens = BURST
        self.last = time.monotonic()

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
    wait = buckets.setdefault(user.id, Bucket()).take()
    if wait > 0:
        await asyncio.sleep(wait)


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, throttle), group=-10)
