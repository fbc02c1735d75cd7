"""Small shop-level timed use-cases the scheduler runs (logic only; wiring is in bot/jobs.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fulfillment.models import PanelError
from shop import notices
from shop.context import ShopContext
from storage import kv, outbox, quotes, users

log = logging.getLogger(__name__)

KV_NS = "alerts"
LOW_BALANCE_KEY = "panel_balance_low"
PUSHES_NS = "push.daily"  # "<front>:<YYYY-MM-DD>" → messages pushed that day


@dataclass(frozen=True)
class OutboxRow:
    id: int
    chat_id: int | None  # Telegram chat; None for a front that finds the customer by user_id
    event: str
    payload: dict[str, Any]
    attempts: int
    user_id: int | None = None
    front: str = "telegram"
    push_task: str | None = None  # the push service's task carrying it, outcome not known


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(
        r["id"], r["chat_id"], r["event"], json.loads(r["payload"]), r["attempts"],
        r["user_id"], r["front"], r["push_task"],
    )  # fmt: skip


class ShopJobs:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx

    # ---- panel balance -----------------------------------------------------------------

    async def check_panel_balance(self) -> bool | None:
        """Alert admins once per low-balance episode; returns whether it is low (None: unknown).

        The flag in kv is set with the alert and cleared when the balance recovers, so the
        next drop alerts again but an hourly check of the same episode does not.
        """
        try:
            bal = await self.ctx.panel.balance()
        except PanelError as exc:
            log.warning("panel balance check failed: %s", exc)
            return None
        threshold = self.ctx.settings.panel_balance_alert_below
        low = bal.amount < threshold
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            episode = await kv.get(conn, KV_NS, LOW_BALANCE_KEY)
            if not low:
                if episode is not None:
                    await kv.delete(conn, KV_NS, LOW_BALANCE_KEY)
                return False
            if episode is not None:
                return True
            await kv.put(conn, KV_NS, LOW_BALANCE_KEY, {"since": now, "amount": str(bal.amount)},
                         now)  # fmt: skip
            await notices.to_admins(
                conn, self.ctx.settings, key=f"panel_balance:{now}", event="admin_panel_balance",
                payload={"balance": str(bal.amount), "currency": bal.currency or "",
                         "threshold": str(Decimal(threshold))},
                now=now,
            )  # fmt: skip
        return True

    # ---- housekeeping ------------------------------------------------------------------

    async def purge_quotes(self) -> int:
        """Confirmation cards that expired unused are dropped."""
        async with self.ctx.db.transaction() as conn:
            return await quotes.purge_expired(conn, self.ctx.now_iso())

    # ---- outbox (used by the bot's notifier) ---------------------------------------------

    async def due_notices(self, limit: int, front: str = "telegram") -> list[OutboxRow]:
        """Rows ``front`` delivers (Telegram: its customers' news and every admin alert)."""
        rows = await outbox.due(self.ctx.db.reader, self.ctx.now_iso(), limit, front)
        return [_outbox_row(r) for r in rows]

    async def pending_notices_for(self, user_id: int, limit: int = 10) -> list[OutboxRow]:
        """A customer's news not delivered yet, for a front that shows it at the next message."""
        rows = await outbox.pending_for_user(self.ctx.db.reader, user_id, limit)
        return [_outbox_row(r) for r in rows]

    async def notice_sent(self, row_id: int) -> None:
        async with self.ctx.db.transaction() as conn:
            await outbox.mark(conn, row_id, "sent", self.ctx.now_iso())

    async def notice_failed(self, row_id: int, error: str, *, skipped: bool = False) -> None:
        status = "skipped" if skipped else "failed"
        async with self.ctx.db.transaction() as conn:
            await outbox.mark(conn, row_id, status, self.ctx.now_iso(), error[:500])

    async def notice_retry(self, row_id: int, after_seconds: float, error: str) -> None:
        async with self.ctx.db.transaction() as conn:
            await outbox.retry_later(
                conn, row_id, self.ctx.now_iso(seconds=after_seconds), error[:500]
            )

    async def notices_pushed(
        self, row_ids: Iterable[int], task: str, after_seconds: float, *, front: str,
        day: str, messages: int,
    ) -> None:  # fmt: skip
        """Rows handed to a push service as ``task``: not due again while it is checked,
        and a restart finds the task with them (``notices_in_push``). ``messages`` are
        added to the front's count for ``day`` (a daily cap that survives a restart)."""
        later = self.ctx.now_iso(seconds=after_seconds)
        key = f"{front}:{day}"
        async with self.ctx.db.transaction() as conn:
            for row_id in row_ids:
                await outbox.pushed(conn, row_id, task, later)
            sent = int(await kv.get(conn, PUSHES_NS, key) or 0)
            await kv.put(conn, PUSHES_NS, key, sent + messages, self.ctx.now_iso())

    async def pushes_on(self, front: str, day: str) -> int:
        """Messages ``front`` pushed on ``day`` (YYYY-MM-DD), as counted by notices_pushed."""
        return int(await kv.get(self.ctx.db.reader, PUSHES_NS, f"{front}:{day}") or 0)

    async def notices_in_push(self, front: str) -> list[OutboxRow]:
        rows = await outbox.in_push(self.ctx.db.reader, front)
        return [_outbox_row(r) for r in rows]

    async def mark_blocked(self, telegram_id: int) -> bool:
        """The customer blocked the bot: stop counting them as reachable (cleared on /start)."""
        async with self.ctx.db.transaction() as conn:
            row = await users.get_by_telegram(conn, telegram_id)
            if row is None or row["blocked_at"] is not None:
                return False
            await users.set_blocked(conn, row["id"], self.ctx.now_iso())
        return True
