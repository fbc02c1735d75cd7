"""Per-customer ordering and fair pacing: one customer's updates in sequence, different
customers at once, and a flooding customer slowed down without slowing anyone else.

ConversationHandler needs each user's updates in order; a global sequential processor
would let one slow panel call delay everyone. This is PTB's sanctioned extension point
(``BaseUpdateProcessor``) keyed by the user (or chat) the update comes from.

Capacity is taken only to *run* an update. PTB's own semaphore wraps ``do_process_update``
and would be held while an update waits for its customer's earlier updates or sleeps in
that customer's pacing: 330 queued updates from one customer then held every slot and
another customer's /start waited 13 s (issue 10). So PTB's bound is set far above any
real backlog (``backlog``), and the real limit is our own semaphore, taken after the
customer's turn has come and their pacing delay (``pace``) has passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Pace = Callable[[int], float]  # customer key → seconds to wait before their next update


def _key(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    def __init__(
        self, max_concurrent_updates: int = 256, *, pace: Pace | None = None,
        backlog: int = 1_000_000,
    ) -> None:  # fmt: skip
        super().__init__(backlog)  # PTB's semaphore: a bound on queued updates only
        self.capacity = max_concurrent_updates
        self.pace = pace
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self.running = 0  # updates holding a slot right now (tests and benchmarks read it)

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        async with self._slots:
            self.running += 1
            try:
                await coroutine
            finally:
                self.running -= 1

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _key(update)
        if key is None:
            await self._run(coroutine)
            return
        # asyncio.Lock wakes its waiters first come, first served: the customer's order.
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                delay = self.pace(key) if self.pace is not None else 0.0
                if delay > 0:
                    await asyncio.sleep(delay)  # holds this customer's turn, no slot
                await self._run(coroutine)
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:  # forget idle customers so memory stays flat
                del self._waiting[key]
                del self._locks[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
