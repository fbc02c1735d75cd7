"""Outbox sender: drains due notification rows to Telegram, paced under the flood limits.

At-least-once: send, then mark sent. The text is rendered from the stored row, so a crash
between the two resends the same message, never a different one. Pacing: at most
``global_rate`` messages/s overall and one per ``chat_interval`` seconds per chat
(AIORateLimiter does not pace private chats).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from handlers.notify_render import render
from shop.alerts import AlertService
from shop.crashpoints import crashpoint
from shop.jobs import OutboxRow, ShopJobs

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600
IN_TASK_RETRIES = 3


class _Pacer:
    """Spaces sends globally (FIFO slots) and honours a global pause after a 429."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()
        self.paused_until = 0.0

    async def slot(self) -> None:
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next, self.paused_until)
            self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class OutboxSender:
    def __init__(
        self,
        jobs: ShopJobs,
        bot: Bot,
        *,
        global_rate: float = 28.0,
        chat_interval: float = 1.0,
        batch: int = 300,
        concurrency: int = 64,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.jobs = jobs
        self.bot = bot
        self.chat_interval = chat_interval
        self.batch = batch
        self._pacer = _Pacer(global_rate)
        self._sem = asyncio.Semaphore(concurrency)
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._chat_last: dict[int, float] = {}
        self._drain_lock = asyncio.Lock()
        self._sleep = sleep
        self.stats = {"sent": 0, "retry_after": 0, "retried": 0, "failed": 0, "skipped": 0}

    async def drain(self) -> int:
        """Send every due row (looping while more become due); one drain at a time."""
        if self._drain_lock.locked():
            return 0  # the running drain picks up new rows on its next round
        async with self._drain_lock:
            total = 0
            while True:
                rows = await self.jobs.due_notices(self.batch)
                if not rows:
                    return total
                results = await asyncio.gather(*(self._send_row(r) for r in rows))
                total += sum(results)
                if not any(results) and len(rows) < self.batch:
                    return total  # nothing sent this round: the rest was rescheduled

    async def _send_row(self, row: OutboxRow) -> bool:
        lock = self._chat_locks.setdefault(row.chat_id, asyncio.Lock())
        async with lock, self._sem:
            try:
                return await self._deliver(row)
            except Exception as exc:  # never lose the row to an unexpected error
                log.exception("outbox row %s (%s) failed unexpectedly", row.id, row.event)
                await self._backoff(row, f"{type(exc).__name__}: {exc}")
                return False
            finally:
                if len(self._chat_locks) > 10_000 and not lock.locked():
                    self._chat_locks.pop(row.chat_id, None)

    async def _deliver(self, row: OutboxRow) -> bool:
        try:
            text, markup = render(row.event, row.payload)
        except (KeyError, ValueError, IndexError) as exc:
            log.error("outbox row %s: cannot render %s: %r", row.id, row.event, exc)
            await self.jobs.notice_failed(row.id, f"render: {exc!r}")
            self.stats["failed"] += 1
            return False
        for _attempt in range(IN_TASK_RETRIES):
            await self._wait_chat(row.chat_id)
            await self._pacer.slot()
            try:
                sent = await self._post(row, text, markup)
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                self.stats["retry_after"] += 1
                log.warning("flood control: retry after %.1fs (row %s)", wait, row.id)
                self._pacer.paused_until = max(self._pacer.paused_until, time.monotonic() + wait)
                continue
            except Forbidden as exc:
                await self.jobs.notice_failed(row.id, str(exc), skipped=True)
                await self.jobs.mark_blocked(row.chat_id)
                self.stats["skipped"] += 1
                return False
            except BadRequest as exc:
                log.error("outbox row %s (%s) rejected: %s", row.id, row.event, exc)
                await self.jobs.notice_failed(row.id, str(exc))
                self.stats["failed"] += 1
                return False
            except (TimedOut, NetworkError) as exc:
                await self._backoff(row, str(exc))
                return False
            finally:
                self._chat_last[row.chat_id] = time.monotonic()
            crashpoint("after_send_before_mark")
            await self.jobs.notice_sent(row.id)
            if row.event == "admin_topup" and sent is not None:
                # so a decision can update every admin's copy
                await AlertService(self.jobs.ctx).remember(
                    f"topup:{row.payload['topup_id']}", row.chat_id, sent.message_id
                )
            self.stats["sent"] += 1
            return True
        # Still flooded after honouring RetryAfter a few times: keep the row for later.
        await self.jobs.notice_retry(row.id, 30, "flood control")
        return False

    async def _post(self, row: OutboxRow, text: str, markup: Any) -> Message | None:
        """Send the row; a decided top-up instead replaces the admin's copy of its request
        (its buttons go), whoever decided it and from where (chat or the web console)."""
        if row.event == "admin_topup_decided":
            copies = await AlertService(self.jobs.ctx).copies(f"topup:{row.payload['topup_id']}")
            message_id = copies.get(row.chat_id)
            if message_id is not None:
                try:
                    await self.bot.edit_message_text(
                        text, chat_id=row.chat_id, message_id=message_id,
                        parse_mode=ParseMode.HTML,
                    )  # fmt: skip
                    return None
                except BadRequest as exc:
                    if "not modified" in str(exc).lower():  # the deciding admin's own copy
                        return None
                    log.info("admin copy %s not editable (%s); sending instead", message_id, exc)
        return await self.bot.send_message(
            row.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )

    async def _wait_chat(self, chat_id: int) -> None:
        last = self._chat_last.get(chat_id)
        if last is not None:
            wait = last + self.chat_interval - time.monotonic()
            if wait > 0:
                await self._sleep(wait)

    async def _backoff(self, row: OutboxRow, error: str) -> None:
        wait = min(MAX_BACKOFF_SECONDS, 5 * 2 ** min(row.attempts, 10))
        log.warning("outbox row %s: %s; retrying in %ss", row.id, error, wait)
        self.stats["retried"] += 1
        await self.jobs.notice_retry(row.id, wait, error)


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
