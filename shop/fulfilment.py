"""Applying the panel's statuses: transitions, refunds exactly once, notifications.

A terminal status is applied by a compare-and-set from an unfinished status, in one
transaction with its refund (unique ledger key) and its outbox row (unique dedupe key),
so polling the same Partial ten times refunds once and notifies once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fulfillment.models import ItemError, OrderStatus, PanelError, PanelStatus, StatusBatch
from shop import money, notices
from shop import statuses as st
from shop.context import ShopContext
from shop.crashpoints import crashpoint
from storage import ledger, orders, users
from storage.ledger import Posting
from storage.rows import Connection, Row

log = logging.getLogger(__name__)

BATCH = 100
MAX_BACKOFF_SECONDS = 3600


@dataclass
class PollReport:
    polled: int = 0
    calls: int = 0
    changed: int = 0
    finished: int = 0
    errors: int = 0
    unknown: int = 0
    outage: bool = False
    settled: list[int] = field(default_factory=list)


def _ended_subscription(row: Row, s: object) -> bool:
    return (
        row["kind"] == "subscription"
        and isinstance(s, OrderStatus)
        and s.status in (PanelStatus.COMPLETED, PanelStatus.EXPIRED, PanelStatus.CANCELED)
    )


def _clamp(remains: int | None, quantity: int) -> int | None:
    return None if remains is None else min(max(remains, 0), quantity)


class FulfilmentService:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx

    # ---- polling -------------------------------------------------------------------

    async def poll_once(self, limit: int = 100_000) -> PollReport:
        """One cycle: every due order, ≤100 ids per status call, each applied on its own."""
        report = PollReport()
        due = await orders.due_for_poll(self.ctx.db.reader, self.ctx.now_iso(), limit)
        by_panel = {r["panel_order_id"]: r for r in due}
        ids = list(by_panel)
        chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
        # Pipelined: the next chunk's status call is in flight while this chunk is written,
        # so the panel and the database work at the same time (at most 2 calls at once).
        ahead = self._fetch(chunks[0]) if chunks else None
        for n, chunk in enumerate(chunks):
            assert ahead is not None
            batch = await ahead
            ahead = self._fetch(chunks[n + 1]) if n + 1 < len(chunks) else None
            if isinstance(batch, PanelError):
                # The panel is down: back these off and try them next cycle.
                log.warning("status poll failed (%d ids): %s", len(chunk), batch)
                report.outage = True
                report.calls += 1
                await self._backoff([by_panel[i] for i in chunk], str(batch))
                continue
            report.calls += batch.calls
            await self._apply_chunk(chunk, by_panel, batch.results, report)
        report.polled = len(ids)
        return report

    def _fetch(self, chunk: list[str]) -> asyncio.Task[StatusBatch | PanelError]:
        async def call() -> StatusBatch | PanelError:
            try:
                return await self.ctx.panel.statuses(chunk)
            except PanelError as exc:
                return exc

        return asyncio.create_task(call())

    async def _apply_chunk(
        self,
        chunk: list[str],
        by_panel: dict[str, Row],
        results: dict[str, OrderStatus | ItemError],
        report: PollReport,
    ) -> None:
        """Apply up to 100 answers in one transaction (the common case: one commit per chunk)."""
        rows = await orders.get_many(self.ctx.db.reader, [by_panel[p]["id"] for p in chunk])
        answers = {p: results.get(p, ItemError("missing in answer")) for p in chunk}
        # Ended subscriptions need their children's charges: panel calls, so before the
        # transaction, never inside it.
        usage: dict[int, int | None] = {}
        for panel_id, answer in answers.items():
            row = rows.get(by_panel[panel_id]["id"])
            if row is not None and _ended_subscription(row, answer):
                usage[row["id"]] = await self._usage_or_none(row, answer)
        todo = [
            (row, answer)
            for panel_id, answer in answers.items()
            if (row := rows.get(by_panel[panel_id]["id"])) is not None
        ]
        try:
            async with self.ctx.db.transaction() as conn:
                outcomes = []
                progress: list[tuple[int, dict[str, Any]]] = []
                for row, answer in todo:
                    plain = self._plain_progress(row, answer)
                    if plain is None:
                        outcome = await self._apply_row(conn, row, answer, usage.get(row["id"]))
                    else:
                        fields, same = plain
                        if fields is not None:
                            progress.append((row["id"], fields))
                        outcome = "same" if same else "changed"
                    outcomes.append(outcome)
                # Most answers are plain progress: one statement for all of them.
                await orders.update_progress_many(conn, progress)
        except Exception:
            # Something in this chunk failed and the chunk rolled back: apply the orders one
            # by one, so one bad order never stops the others.
            log.exception("applying a chunk of statuses failed; retrying order by order")
            outcomes = [await self._apply_alone(row, answer, usage) for row, answer in todo]
        if "finished" in outcomes:
            crashpoint("after_refund_commit")  # refunds committed, outbox rows not yet sent
        for outcome in outcomes:
            report.errors += outcome == "error"
            report.changed += outcome in ("changed", "finished")
            report.finished += outcome == "finished"
            report.unknown += outcome == "unknown"

    async def _apply_alone(
        self, row: Row, answer: OrderStatus | ItemError, usage: dict[int, int | None]
    ) -> str:
        try:
            async with self.ctx.db.transaction() as conn:
                return await self._apply_row(conn, row, answer, usage.get(row["id"]))
        except Exception:
            log.exception("applying the status of order %s failed", row["id"])
            return "error"

    async def _backoff(self, rows: list[Row], error: str) -> None:
        async with self.ctx.db.transaction() as conn:
            for row in rows:
                await self._backoff_in(conn, row, error)

    async def _backoff_in(self, conn: Connection, row: Row, error: str) -> None:
        failures = row["poll_failures"] + 1
        wait = min(MAX_BACKOFF_SECONDS, self._interval() * 2 ** min(failures, 10))
        await orders.update(
            conn, row["id"], st.POLLED,
            {"poll_failures": failures, "next_poll_at": self.ctx.now_iso(seconds=wait),
             "error": error[:500]},
        )  # fmt: skip

    def _interval(self) -> float:
        return self.ctx.settings.poll_interval_seconds

    # ---- applying ------------------------------------------------------------------

    async def apply(self, order_id: int, status: OrderStatus | ItemError) -> str:
        """Apply one panel answer; returns 'same', 'changed', 'finished', 'unknown', 'error'."""
        row = await orders.get(self.ctx.db.reader, order_id)
        if row is None:
            return "same"
        used = await self._usage_or_none(row, status) if _ended_subscription(row, status) else None
        async with self.ctx.db.transaction() as conn:
            return await self._apply_row(conn, row, status, used)

    async def _apply_row(
        self,
        conn: Connection,
        row: Row,
        status: OrderStatus | ItemError,
        used_units: int | None,
    ) -> str:
        if row["status"] not in st.POLLED:
            return "same"
        if isinstance(status, ItemError):
            await self._backoff_in(conn, row, status.error)
            return "error"
        if status.status == PanelStatus.UNKNOWN:
            await self._unknown_word(conn, row, status.raw_status)
            return "unknown"
        if row["kind"] == "subscription":
            if not _ended_subscription(row, status):
                target = st.IN_PROGRESS if status.status != PanelStatus.PENDING else st.PENDING
                return await self._progress(conn, row, status, target)
            if used_units is None:
                return "same"  # children's charges unavailable: settle next cycle
            return await self._settle(conn, row, status, used_units)
        target = st.ORDER_TARGET[status.status]
        if target in st.TERMINAL:
            return await self._finish(conn, row, status, target)
        if target == st.NEEDS_REVIEW:
            return await self._panel_failed(conn, row, status)
        return await self._progress(conn, row, status, target)

    def _progress_fields(
        self, row: Row, s: OrderStatus, target: str
    ) -> tuple[dict[str, Any] | None, bool, bool]:
        """(fields to write or None when nothing changed, same-for-the-customer, started)."""
        now = self.ctx.now_iso()
        fields: dict[str, Any] = {
            "status": target, "panel_status": s.raw_status, "updated_at": now,
            "remains": _clamp(s.remains, row["quantity"]), "start_count": s.start_count,
            "charge": None if s.charge is None else str(s.charge), "poll_failures": 0,
            "next_poll_at": now,
        }  # fmt: skip
        started = target == st.IN_PROGRESS and row["started_at"] is None
        fields["started_at"] = now if started else row["started_at"]
        same = (
            row["status"] == target
            and row["remains"] == fields["remains"]
            and row["start_count"] == s.start_count
        )
        unchanged = same and row["poll_failures"] == 0 and row["panel_status"] == s.raw_status
        if unchanged and not started:
            return None, True, False  # nothing to write
        return fields, same, started

    async def _progress(self, conn: Connection, row: Row, s: OrderStatus, target: str) -> str:
        fields, same, started = self._progress_fields(row, s, target)
        if fields is None or not await orders.update(conn, row["id"], st.POLLED, fields):
            return "same"
        if started and self.ctx.settings.notify_started:
            user = await users.get(conn, row["user_id"])
            await notices.to_user(
                conn, user_row=user, key=f"order:{row['id']}:started",
                event="order_started", payload={"order_id": row["id"]}, now=fields["updated_at"],
            )  # fmt: skip
        return "same" if same else "changed"

    def _plain_progress(
        self, row: Row, answer: OrderStatus | ItemError
    ) -> tuple[dict[str, Any] | None, bool] | None:
        """For the common poll answer — an ordinary order still queued or delivering, with
        nothing to notify — the fields to write; None for anything that needs _apply_row."""
        if not isinstance(answer, OrderStatus) or row["kind"] != "order":
            return None
        if row["status"] not in st.POLLED or answer.status == PanelStatus.UNKNOWN:
            return None
        target = st.ORDER_TARGET[answer.status]
        if target in st.TERMINAL or target == st.NEEDS_REVIEW:
            return None
        fields, same, started = self._progress_fields(row, answer, target)
        if started and self.ctx.settings.notify_started:
            return None
        return fields, same

    async def _finish(self, conn: Connection, row: Row, s: OrderStatus, target: str) -> str:
        price, quantity, oid = row["price"], row["quantity"], row["id"]
        remains = _clamp(s.remains, quantity)
        if target == st.CANCELED:
            refund, remains = price, quantity if remains is None else remains
        elif target == st.PARTIAL:
            if remains is None:
                # "Partial" with no usable remains: the refund cannot be computed.
                return await self._panel_failed(conn, row, s)
            refund = money.partial_refund(price, remains, quantity)
        else:
            refund, remains = 0, 0
        delivered = quantity - (remains or 0)
        now = self.ctx.now_iso()
        ok = await orders.update(
            conn, oid, st.POLLED,
            {"status": target, "panel_status": s.raw_status, "remains": remains,
             "start_count": s.start_count, "delivered": delivered, "refunded": refund,
             "charge": None if s.charge is None else str(s.charge),
             "finished_at": now, "updated_at": now, "next_poll_at": None},
        )  # fmt: skip
        if not ok:
            return "same"
        if refund > 0:
            await ledger.post(
                conn,
                Posting(row["user_id"], refund, "refund", f"order:{oid}:refund", oid,
                        note=f"panel status {s.raw_status}"),
                now,
            )  # fmt: skip
        user = await users.get(conn, row["user_id"])
        await notices.to_user(
            conn, user_row=user, key=f"order:{oid}:{target}", event=f"order_{target}",
            payload={"order_id": oid, "delivered": delivered, "quantity": quantity,
                     "refund": refund, "balance": user["balance"]},
            now=now,
        )  # fmt: skip
        return "finished"

    async def _panel_failed(self, conn: Connection, row: Row, s: OrderStatus) -> str:
        """Fail/Error (or an unusable Partial): keep the money where it is, ask a human."""
        now = self.ctx.now_iso()
        reason = f"panel reported {s.raw_status!r} (remains {s.remains})"
        ok = await orders.update(
            conn, row["id"], st.POLLED,
            {"status": st.NEEDS_REVIEW, "panel_status": s.raw_status, "error": reason,
             "updated_at": now, "next_poll_at": None},
        )  # fmt: skip
        if not ok:
            return "same"
        await notices.order_review(conn, self.ctx.settings, row, reason, now)
        return "changed"

    async def _unknown_word(self, conn: Connection, row: Row, word: str) -> None:
        now = self.ctx.now_iso()
        log.warning("order %s: unknown panel status %r; still polling", row["id"], word)
        await orders.update(
            conn, row["id"], st.POLLED,
            {"panel_status": word, "updated_at": now,
             "next_poll_at": self.ctx.now_iso(seconds=self._interval())},
        )  # fmt: skip
        await notices.to_admins(
            conn, self.ctx.settings, key=f"order:{row['id']}:unknown:{word[:40]}",
            event="admin_unknown_status",
            payload={"order_id": row["id"], "word": word,
                     "panel_order_id": row["panel_order_id"]},
            now=now,
        )  # fmt: skip

    # ---- subscriptions ----------------------------------------------------------------

    async def _usage_or_none(self, row: Row, s: OrderStatus | ItemError) -> int | None:
        try:
            assert isinstance(s, OrderStatus)
            return await self._subscription_used_units(row, s)
        except PanelError as exc:
            log.warning("subscription %s: child statuses unavailable: %s", row["id"], exc)
            return None

    async def _subscription_used_units(self, row: Row, s: OrderStatus) -> int:
        """Units delivered, derived from the children's charges at the stored rate."""
        if not s.child_orders:
            return 0
        batch = await self.ctx.panel.statuses(list(s.child_orders))
        charge = sum(
            (r.charge for r in batch.results.values() if isinstance(r, OrderStatus) and r.charge),
            Decimal(0),
        )
        return money.units_from_charge(charge, Decimal(row["rate"]))

    async def _settle(self, conn: Connection, row: Row, s: OrderStatus, used_units: int) -> str:
        oid, price = row["id"], row["price"]
        used_units = min(used_units, row["quantity"])
        cost = min(price, money.order_price(row["price_per_1000"], used_units)) if used_units else 0
        refund = price - cost
        target = (
            st.CANCELED if s.status == PanelStatus.CANCELED and used_units == 0 else st.COMPLETED
        )
        now = self.ctx.now_iso()
        ok = await orders.update(
            conn, oid, st.POLLED,
            {"status": target, "panel_status": s.raw_status, "delivered": used_units,
             "remains": row["quantity"] - used_units, "refunded": refund,
             "finished_at": now, "updated_at": now, "next_poll_at": None},
        )  # fmt: skip
        if not ok:
            return "same"
        if refund > 0:
            await ledger.post(
                conn,
                Posting(row["user_id"], refund, "reserve_release",
                        f"order:{oid}:refund", oid, note="subscription settled"),
                now,
            )  # fmt: skip
        user = await users.get(conn, row["user_id"])
        await notices.to_user(
            conn, user_row=user, key=f"order:{oid}:sub_ended", event="subscription_ended",
            payload={"order_id": oid, "used": cost, "returned": refund,
                     "delivered": used_units, "balance": user["balance"]},
            now=now,
        )  # fmt: skip
        return "finished"

    # ---- timed checks ----------------------------------------------------------------

    async def alert_not_started(self) -> int:
        """FAQ 3: queued for 48 h → tell the customer once, alert admins once."""
        hours = self.ctx.settings.not_started_alert_hours
        before = self.ctx.now_iso(seconds=-timedelta(hours=hours).total_seconds())
        late = await orders.not_started_since(self.ctx.db.reader, before)
        now = self.ctx.now_iso()
        for row in late:
            async with self.ctx.db.transaction() as conn:
                if not await orders.update(conn, row["id"], st.QUEUED, {"late_alerted_at": now}):
                    continue
                user = await users.get(conn, row["user_id"])
                await notices.to_user(
                    conn, user_row=user, key=f"order:{row['id']}:late", event="order_late",
                    payload={"order_id": row["id"], "hours": hours}, now=now,
                )  # fmt: skip
                await notices.to_admins(
                    conn, self.ctx.settings, key=f"order:{row['id']}:late", event="admin_late",
                    payload={"order_id": row["id"], "user_id": row["user_id"], "hours": hours,
                             "panel_order_id": row["panel_order_id"]},
                    now=now,
                )  # fmt: skip
        return len(late)

    async def poll_refills(self) -> int:
        """Refill requests in flight: tell the customer when one finishes or is rejected."""
        rows = [
            r
            for r in await orders.with_status(self.ctx.db.reader, (st.COMPLETED,))
            if r["refill_status"] in ("pending", "in_progress") and r["refill_id"]
        ]
        if not rows:
            return 0
        by_refill = {r["refill_id"]: r for r in rows}
        try:
            results = await self.ctx.panel.refill_statuses(list(by_refill))
        except PanelError as exc:
            log.warning("refill status poll failed: %s", exc)
            return 0
        changed = 0
        for refill_id, res in results.items():
            row = by_refill.get(refill_id)
            if row is None or isinstance(res, ItemError) or res.status == row["refill_status"]:
                continue
            changed += await self._refill_changed(row, res.status)
        return changed

    async def _refill_changed(self, row: Row, status: str) -> int:
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            await orders.update(
                conn, row["id"], st.COMPLETED, {"refill_status": status, "updated_at": now}
            )
            if status in ("completed", "rejected", "canceled", "error"):
                user = await users.get(conn, row["user_id"])
                event = "refill_finished" if status == "completed" else "refill_rejected"
                await notices.to_user(
                    conn, user_row=user, key=f"order:{row['id']}:refill:{row['refill_id']}:end",
                    event=event, payload={"order_id": row["id"]}, now=now,
                )  # fmt: skip
        return 1
