"""News for KakaoTalk customers: their outbox rows, pushed by the Event API or shown at
their next message.

Kakao can only start a conversation through the Event API (paid, 15 원 a message, and only
for business channels), so it is optional:
- configured: ``KakaoNews.drain`` (the shop's outbox job) pushes each customer's due news as
  one event (``data.text``, shown by the console's event block), customers with the same
  text batched ≤ 100 a call. SUCCESS only means accepted, so the rows stay pending (moved
  out of the due window) until the task's per-user results say delivered; a failed user is
  tried again later, at most ``MAX_PUSHES`` times, and after that the news simply waits;
- always: whatever is still pending is shown at the customer's next message
  (``take_for``), and order news is in 주문내역 anyway.
A daily cap bounds the bill if something loops (kakao-skill.md §8.11); the day's count
is kept in the database, so a restart does not reset it. The task a row
was pushed with is stored with the row, so after a restart the task is checked again
instead of the news being pushed (and paid for) twice; a task Kakao never finishes lets
its rows come due again after an hour (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC

from chat.htmltext import clip
from chat.news import render as render_news
from chat.screens import Screen
from kakao.event_api import MAX_USERS, EventApiClient, EventApiError
from shop.jobs import OutboxRow, ShopJobs
from shop.shop import Shop

log = logging.getLogger(__name__)

BATCH = 500  # due rows read per drain round
IN_FLIGHT_SECONDS = 600  # a pushed row is not due again while its task is checked
TASK_GIVE_UP_SECONDS = 3600  # a task Kakao never finishes: its rows come due again
RETRY_SECONDS = (60, 600, 3600)
MAX_PUSHES = 3  # then the news waits for the customer's next message
WAITS_FOR_NEXT_MESSAGE = 7 * 24 * 3600
DAILY_CAP = 10_000  # Event API messages a day (15 원 each)
NEWS_TEXT = 1000  # the event block shows data.text in a simpleText


def news_screen(row: OutboxRow) -> Screen | None:
    """One outbox row as chat/ renders it for every front (None: not renderable)."""
    try:
        return render_news(row.event, row.payload)
    except (KeyError, IndexError, ValueError):
        log.warning("kakao news: cannot render %s (row %s)", row.event, row.id)
        return None


def news_line(row: OutboxRow) -> str | None:
    """One outbox row as plain text (what an Event API message shows)."""
    screen = news_screen(row)
    return None if screen is None else screen.plain.strip()


def news_text(lines: list[str], limit: int = NEWS_TEXT) -> str:
    return clip("\n\n".join(lines), limit)


@dataclass
class _Task:
    id: str
    rows: dict[str, list[OutboxRow]]  # botUserKey -> the rows it carries
    started: float = field(default_factory=time.monotonic)


class KakaoNews:
    """The Kakao front's outbox deliverer (``rt.senders["kakao"]``)."""

    def __init__(
        self, shop: Shop, client: EventApiClient | None, *, daily_cap: int = DAILY_CAP
    ) -> None:
        self.shop = shop
        self.jobs = ShopJobs(shop.ctx)
        self.client = client
        self.daily_cap = daily_cap
        self.tasks: dict[str, _Task] = {}
        self._in_flight: set[int] = set()  # rows pushed whose delivery is not known yet
        self._resumed = False
        self._drain_lock = asyncio.Lock()
        self._day = ""
        self._today = 0
        self.stats = {"pushed": 0, "delivered": 0, "failed": 0, "calls": 0}

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    # ---- shown at the next message ------------------------------------------------------

    async def take_for(self, user_id: int) -> list[Screen]:
        """The customer's undelivered news, marked delivered: the caller shows it."""
        await self._resume()
        rows = await self.jobs.pending_notices_for(user_id, limit=10)
        screens = []
        for row in rows:
            if row.id in self._in_flight:
                continue  # the Event API is delivering it right now; shown if that fails
            screen = news_screen(row)
            if screen is None:
                await self.jobs.notice_failed(row.id, "not renderable for kakao")
                continue
            screens.append(screen)
            await self.jobs.notice_sent(row.id)
        return screens

    # ---- pushed by the Event API --------------------------------------------------------

    async def drain(self) -> int:
        """Check earlier pushes, then push what is due. Returns messages accepted. One
        drain at a time: the outbox job and a kick after a poll may start two together,
        and both would read the same due rows and push (and pay for) them twice."""
        if self.client is None:
            return 0  # no Event API: news waits for the customer's next message
        if self._drain_lock.locked():
            return 0  # the running drain is on it; what it missed is due at the next tick
        async with self._drain_lock:
            return await self._drain()

    async def _drain(self) -> int:
        assert self.client is not None
        await self._resume()
        await self._check_tasks()
        rows = await self.jobs.due_notices(BATCH, front="kakao")
        if not rows:
            return 0
        by_user: dict[int, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            if row.user_id is not None:
                by_user[row.user_id].append(row)
        by_text: dict[str, dict[str, list[OutboxRow]]] = defaultdict(dict)
        for user_id, user_rows in by_user.items():
            user = await self.shop.users.get(user_id)
            lines = [line for r in user_rows if (line := news_line(r))]
            if user is None or not user.external_id or not lines:
                for r in user_rows:
                    await self.jobs.notice_failed(r.id, "no Kakao customer or text")
                continue
            by_text[news_text(lines)][user.external_id] = user_rows
        pushed = 0
        for text, users in by_text.items():
            keys = list(users)
            for i in range(0, len(keys), MAX_USERS):
                chunk = {k: users[k] for k in keys[i : i + MAX_USERS]}
                if not await self._allowed(len(chunk)):
                    log.warning("kakao news: daily cap of %d pushes reached", self.daily_cap)
                    return pushed
                pushed += await self._push(text, chunk)
        return pushed

    async def _allowed(self, n: int) -> bool:
        day = self.shop.ctx.now().astimezone(UTC).strftime("%Y-%m-%d")
        if day != self._day:  # a new day, or the first push since a restart
            self._day, self._today = day, await self.jobs.pushes_on("kakao", day)
        if self._today + n > self.daily_cap:
            return False
        self._today += n
        return True

    async def _push(self, text: str, users: dict[str, list[OutboxRow]]) -> int:
        assert self.client is not None
        self.stats["calls"] += 1
        try:
            task_id = await self.client.send(list(users), {"text": text})
        except EventApiError as exc:
            log.warning("kakao news: push of %d users failed: %s", len(users), exc)
            for rows in users.values():
                await self._later(rows, str(exc), retry=exc.retry)
            return 0
        self._track(_Task(task_id, users))
        # still pending, but not due while the task is checked; the task is kept with them
        await self.jobs.notices_pushed(
            (r.id for rows in users.values() for r in rows), task_id, IN_FLIGHT_SECONDS,
            front="kakao", day=self._day, messages=len(users),
        )  # fmt: skip
        self.stats["pushed"] += len(users)
        return len(users)

    def _track(self, task: _Task) -> None:
        self.tasks[task.id] = task
        self._in_flight.update(r.id for rows in task.rows.values() for r in rows)

    async def _resume(self) -> None:
        """Once per process: the tasks pushed before a restart, from their rows."""
        if self._resumed:
            return
        self._resumed = True
        by_task: dict[str, dict[str, list[OutboxRow]]] = defaultdict(dict)
        for row in await self.jobs.notices_in_push("kakao"):
            user = await self.shop.users.get(row.user_id) if row.user_id is not None else None
            if row.push_task is None or user is None or not user.external_id:
                continue
            by_task[row.push_task].setdefault(user.external_id, []).append(row)
        for task_id, rows in by_task.items():
            if task_id not in self.tasks:
                self._track(_Task(task_id, rows))
        if by_task:
            log.info("kakao news: checking %d push task(s) from before the restart", len(by_task))

    def _forget(self, task: _Task) -> None:
        del self.tasks[task.id]
        self._in_flight.difference_update(r.id for rows in task.rows.values() for r in rows)

    async def _check_tasks(self) -> None:
        assert self.client is not None
        for task in list(self.tasks.values()):
            try:
                result = await self.client.result(task.id)
            except EventApiError as exc:
                log.info("kakao news: task %s not readable yet: %s", task.id, exc)
                if time.monotonic() - task.started > TASK_GIVE_UP_SECONDS:
                    self._forget(task)  # its rows come due again
                continue
            if not result.done:
                if time.monotonic() - task.started > TASK_GIVE_UP_SECONDS:
                    self._forget(task)
                continue
            self._forget(task)
            for key, rows in task.rows.items():
                error = result.failed.get(key)
                if error is None:
                    self.stats["delivered"] += 1
                    for r in rows:
                        await self.jobs.notice_sent(r.id)
                else:
                    self.stats["failed"] += 1
                    await self._later(rows, f"Event API: {error}", retry=True)

    async def _later(self, rows: list[OutboxRow], error: str, *, retry: bool) -> None:
        """Try again later, or (refused, or tried enough) leave it for the next message."""
        for r in rows:
            pushes = r.attempts // 2 + 1  # a push counts twice: in flight, then its outcome
            if retry and pushes < MAX_PUSHES:
                wait = RETRY_SECONDS[min(pushes - 1, len(RETRY_SECONDS) - 1)]
            else:
                wait = WAITS_FOR_NEXT_MESSAGE
            await self.jobs.notice_retry(r.id, wait, error)
