"""Applying the panel's statuses: transitions, refunds exactly once, notifications.

A terminal status is applied by a compare-and-set from an unfinished status, in one
transaction with its refund (unique ledger key) and its outbox row (unique dedupe key),
so polling the same Partial ten times refunds once and notifies once. How much is
refunded is decided in shop/settlement.py (one rule per service type); this module
fetches the evidence (runs' and posts' statuses before the transaction) and applies it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fulfillment.models import ItemError, OrderStatus, PanelError, PanelStatus, StatusBatch
from shop import notices, settlement
from shop import statuses as st
from shop.context import ShopContext
from shop.crashpoints import crashpoint
from shop.settlement import Children, OrderFacts, Returned, Review, Wait
from storage import kv, ledger, orders, users
from storage.ledger import Posting
from storage.rows import Connection, Row

log = logging.getLogger(__name__)

BATCH = 100
MAX_BACKOFF_SECONDS = 3600
KV_NS = "panel"
CHARGE_STYLE_KEY = "charge_style"  # settlement.LOWERED / KEPT, learned from finished orders


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


def _needs_children(row: Row, s: object) -> bool:
    """A final answer for a parent whose money is in its runs' or posts' orders."""
    if not isinstance(s, OrderStatus) or not s.child_orders:
        return False
    if row["kind"] == "subscription":
        return s.status in (PanelStatus.COMPLETED, PanelStatus.EXPIRED, PanelStatus.CANCELED)
    return bool(row["runs"]) and s.status in settlement.FINAL


def _ended_subscription(s: OrderStatus) -> bool:
    return s.status in (PanelStatus.COMPLETED, PanelStatus.EXPIRED, PanelStatus.CANCELED)


def _clamp(remains: int | None, quantity: int) -> int | None:
    return None if remains is None else min(max(remains, 0), quantity)


def _remains(row: Row, s: OrderStatus) -> int | None:
    """Units not delivered yet, as the panel shows them (a drip-feed by its runs)."""
    if row["runs"] and s.remains is None:
        sent = (
            s.runs_done
            if s.runs_done is not None
            else (len(s.child_orders) if s.children_listed else None)
        )
        if sent is None:
            return None
        runs = row["runs"]
        return row["quantity"] * (runs - min(sent, runs)) // runs
    units = row["package_qty"] if row["service_type"] == "package" else row["quantity"]
    return _clamp(s.remains, units or row["quantity"])


class FulfilmentService:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx
        self._style: str | None = None  # the panel's charge style, once learned
        self._style_loaded = False

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
        todo = [
            (row, answer)
            for panel_id, answer in answers.items()
            if (row := rows.get(by_panel[panel_id]["id"])) is not None
        ]
        # Parents' money is in their runs' and posts' orders: panel calls, so before the
        # transaction, never inside it.
        kids = await self._children([(row, a) for row, a in todo if _needs_children(row, a)])
        await self._charge_style()
        try:
            async with self.ctx.db.transaction() as conn:
                outcomes = []
                progress: list[tuple[int, dict[str, Any]]] = []
                for row, answer in todo:
                    plain = self._plain_progress(row, answer)
                    if plain is None:
                        outcome = await self._apply_row(conn, row, answer, kids.get(row["id"]))
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
            self._style_loaded = False  # a style learned in the rolled-back chunk is not stored
            outcomes = [await self._apply_alone(row, answer, kids) for row, answer in todo]
        if "finished" in outcomes:
            crashpoint("after_refund_commit")  # refunds committed, outbox rows not yet sent
        for outcome in outcomes:
            report.errors += outcome == "error"
            report.changed += outcome in ("changed", "finished")
            report.finished += outcome == "finished"
            report.unknown += outcome == "unknown"

    async def _apply_alone(
        self, row: Row, answer: OrderStatus | ItemError, kids: dict[int, Children | None]
    ) -> str:
        try:
            async with self.ctx.db.transaction() as conn:
                return await self._apply_row(conn, row, answer, kids.get(row["id"]))
        except Exception as exc:
            log.exception("applying the status of order %s failed", row["id"])
            # Back it off like a per-id error, so it is neither retried at every poll nor
            # forgotten: if it keeps failing it reaches the review queue.
            try:
                await self._backoff([row], f"could not apply the panel's answer: {exc!r}",
                                    blocked=True)  # fmt: skip
            except Exception:
                log.exception("backing off order %s failed too", row["id"])
            return "error"

    async def _backoff(self, rows: list[Row], error: str, *, blocked: bool = False) -> None:
        async with self.ctx.db.transaction() as conn:
            for row in rows:
                await self._backoff_in(conn, row, error, blocked=blocked)

    async def _backoff_in(self, conn: Connection, row: Row, error: str, *, blocked: bool) -> None:
        """Try again later. ``blocked``: the answer was about this order (an error for its
        id, a missing id), which starts the clock that sends it to review; a panel outage
        does not."""
        failures = row["poll_failures"] + 1
        wait = min(MAX_BACKOFF_SECONDS, self._interval() * 2 ** min(failures, 10))
        fields = {"poll_failures": failures, "next_poll_at": self.ctx.now_iso(seconds=wait),
                  "error": error[:500]}  # fmt: skip
        if blocked and row["blocked_since"] is None:
            fields["blocked_since"] = self.ctx.now_iso()
        await orders.update(conn, row["id"], st.POLLED, fields)

    def _interval(self) -> float:
        return self.ctx.settings.poll_interval_seconds

    # ---- applying ------------------------------------------------------------------

    async def apply(self, order_id: int, status: OrderStatus | ItemError) -> str:
        """Apply one panel answer; returns 'same', 'changed', 'finished', 'unknown', 'error'."""
        row = await orders.get(self.ctx.db.reader, order_id)
        if row is None:
            return "same"
        kids = await self._children([(row, status)] if _needs_children(row, status) else [])
        await self._charge_style()
        async with self.ctx.db.transaction() as conn:
            return await self._apply_row(conn, row, status, kids.get(order_id))

    async def _apply_row(
        self,
        conn: Connection,
        row: Row,
        status: OrderStatus | ItemError,
        children: Children | None,
    ) -> str:
        if row["status"] not in st.POLLED:
            return "same"
        if isinstance(status, ItemError):
            await self._backoff_in(conn, row, status.error, blocked=True)
            return "error"
        if status.status == PanelStatus.UNKNOWN:
            await self._unknown_word(conn, row, status.raw_status)
            return "unknown"
        facts = OrderFacts.of(row)
        if row["kind"] == "subscription":
            if not _ended_subscription(status):
                target = st.IN_PROGRESS if status.status != PanelStatus.PENDING else st.PENDING
                return await self._progress(conn, row, status, target)
            verdict = settlement.subscription(facts, status, children, self._style)
        else:
            target = st.ORDER_TARGET[status.status]
            if target == st.NEEDS_REVIEW:
                reason = f"panel reported {status.raw_status!r} (remains {status.remains})"
                return await self._to_review(conn, row, status, reason)
            if target not in st.TERMINAL:
                return await self._progress(conn, row, status, target)
            if facts.is_dripfeed:
                verdict = settlement.dripfeed(facts, status, children)
            else:
                verdict = settlement.plain(facts, status)
                await self._learn_style(conn, facts, status)
        if isinstance(verdict, Review):
            return await self._to_review(conn, row, status, verdict.reason)
        if isinstance(verdict, Wait):
            return await self._wait(conn, row, status, verdict)
        return await self._finish(conn, row, status, verdict)

    def _progress_fields(
        self, row: Row, s: OrderStatus, target: str
    ) -> tuple[dict[str, Any] | None, bool, bool]:
        """(fields to write or None when nothing changed, same-for-the-customer, started).

        Runs for every polled order on every cycle: the unchanged case returns early."""
        remains = _remains(row, s)
        seen = row["charge_seen"]
        charge = None if s.charge is None else str(s.charge)
        if charge is not None and charge != seen and s.charge > 0:
            if seen is None or s.charge > Decimal(seen):
                seen = charge  # the highest charge shown while unfinished: the cost there
        package_qty = row["package_qty"]
        if (
            package_qty is None and target in st.QUEUED and row["service_type"] == "package"
            and s.remains is not None and s.remains > 0
        ):  # fmt: skip
            package_qty = s.remains  # before delivery, remains is the whole package
        same = (
            row["status"] == target
            and row["remains"] == remains
            and row["start_count"] == s.start_count
        )
        started = target == st.IN_PROGRESS and row["started_at"] is None
        if (
            same and not started and row["poll_failures"] == 0
            and row["panel_status"] == s.raw_status and row["blocked_since"] is None
            and row["charge_seen"] == seen and row["package_qty"] == package_qty
        ):  # fmt: skip
            return None, True, False  # nothing to write
        now = self.ctx.now_iso()
        fields: dict[str, Any] = {
            "status": target, "panel_status": s.raw_status, "updated_at": now,
            "remains": remains, "start_count": s.start_count, "charge": charge,
            "poll_failures": 0, "next_poll_at": now, "charge_seen": seen,
            "progress_at": row["progress_at"] if same else now, "blocked_since": None,
            "package_qty": package_qty, "error": None,
            "started_at": now if started else row["started_at"],
        }  # fmt: skip
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

    async def _finish(self, conn: Connection, row: Row, s: OrderStatus, v: Returned) -> str:
        """A final answer, in money: the refund row, the final status and the notice."""
        price, oid = row["price"], row["id"]
        refund = settlement.refund(price, v.share)
        subscription = row["kind"] == "subscription"
        if subscription:
            kept_all = s.status == PanelStatus.CANCELED and v.delivered == 0
            target = st.CANCELED if kept_all else st.COMPLETED
        else:
            target = settlement.target_status(s.status, v.share)
        if target == st.CANCELED:
            refund = price  # canceled costs 0 (the ledger checks it)
        now = self.ctx.now_iso()
        ok = await orders.update(
            conn, oid, st.POLLED,
            {"status": target, "panel_status": s.raw_status, "remains": v.remains,
             "start_count": s.start_count, "delivered": v.delivered, "refunded": refund,
             "charge": None if s.charge is None else str(s.charge), "error": None,
             "finished_at": now, "updated_at": now, "next_poll_at": None,
             "blocked_since": None},
        )  # fmt: skip
        if not ok:
            return "same"
        if refund > 0:
            await ledger.post(
                conn,
                Posting(row["user_id"], refund, "reserve_release" if subscription else "refund",
                        f"order:{oid}:refund", oid,
                        note=f"panel status {s.raw_status} ({v.basis})"),
                now,
            )  # fmt: skip
        user = await users.get(conn, row["user_id"])
        if subscription:
            await notices.to_user(
                conn, user_row=user, key=f"order:{oid}:sub_ended", event="subscription_ended",
                payload={"order_id": oid, "used": price - refund, "returned": refund,
                         "delivered": v.delivered, "balance": user["balance"]},
                now=now,
            )  # fmt: skip
            return "finished"
        units = row["package_qty"] if row["service_type"] == "package" else row["quantity"]
        await notices.to_user(
            conn, user_row=user, key=f"order:{oid}:{target}", event=f"order_{target}",
            payload={"order_id": oid, "delivered": v.delivered, "quantity": units,
                     "refund": refund, "balance": user["balance"]},
            now=now,
        )  # fmt: skip
        return "finished"

    async def _wait(self, conn: Connection, row: Row, s: OrderStatus, v: Wait) -> str:
        """A parent said it ended but its runs/posts have not all answered finally yet."""
        if v.blocked:
            await self._backoff_in(conn, row, v.reason, blocked=True)
            return "error"
        now = self.ctx.now_iso()
        await orders.update(
            conn, row["id"], st.POLLED,
            {"panel_status": s.raw_status, "error": v.reason[:500], "updated_at": now,
             "next_poll_at": self.ctx.now_iso(seconds=self._interval())},
        )  # fmt: skip
        return "same"

    async def _to_review(self, conn: Connection, row: Row, s: OrderStatus, reason: str) -> str:
        """Fail/Error, or an answer the rules cannot turn into money: keep the money where
        it is, ask a human."""
        now = self.ctx.now_iso()
        ok = await orders.update(
            conn, row["id"], st.POLLED,
            {"status": st.NEEDS_REVIEW, "panel_status": s.raw_status, "error": reason[:500],
             "updated_at": now, "next_poll_at": None},
        )  # fmt: skip
        if not ok:
            return "same"
        await notices.order_review(conn, self.ctx.settings, row, reason, now, episode=now)
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

    # ---- evidence --------------------------------------------------------------------

    async def _children(
        self, parents: list[tuple[Row, OrderStatus | ItemError]]
    ) -> dict[int, Children | None]:
        """The statuses of the runs/posts of parents that ended (None: the call failed)."""
        wanted = {
            row["id"]: list(answer.child_orders)
            for row, answer in parents
            if isinstance(answer, OrderStatus)
        }
        ids = list(dict.fromkeys(i for kids in wanted.values() for i in kids))
        if not ids:
            return {}
        try:
            batch = await self.ctx.panel.statuses(ids)
        except PanelError as exc:
            log.warning("statuses of %d runs/posts unavailable: %s", len(ids), exc)
            return dict.fromkeys(wanted)
        return {oid: {i: batch.results[i] for i in kids if i in batch.results}
                for oid, kids in wanted.items()}  # fmt: skip

    async def _charge_style(self) -> str | None:
        if not self._style_loaded:
            self._style = await kv.get(self.ctx.db.reader, KV_NS, CHARGE_STYLE_KEY)
            self._style_loaded = True
        return self._style

    async def _learn_style(self, conn: Connection, facts: OrderFacts, s: OrderStatus) -> None:
        """Remember whether the panel lowers ``charge`` when it refunds (the rule for
        auto-likes posts that ended Partial needs it)."""
        style = settlement.charge_style(facts, s)
        if style is None or style == self._style:
            return
        if self._style is not None:
            log.warning("the panel's charge style changed from %s to %s", self._style, style)
        await kv.put(conn, KV_NS, CHARGE_STYLE_KEY, style, self.ctx.now_iso())
        self._style = style

    # ---- timed checks ----------------------------------------------------------------

    async def review_stuck(self) -> int:
        """Orders nobody can finish go to the review queue, admins alerted once: the panel
        has answered only with errors for them (e.g. "Incorrect order ID": it forgot them)
        for ``stuck_order_hours``, or their answer has not moved for
        ``stalled_order_hours``. Until an admin refunds or re-attaches them they also keep
        their link's duplicate-job lock, as an unfinished order should."""
        cfg = self.ctx.settings
        blocked_before = self.ctx.now_iso(hours=-cfg.stuck_order_hours)
        still_before = self.ctx.now_iso(hours=-cfg.stalled_order_hours)
        found = await orders.stuck(self.ctx.db.reader, blocked_before, still_before)
        moved = 0
        for row in found:
            if row["blocked_since"] is not None and row["blocked_since"] <= blocked_before:
                reason = (f"the panel has not answered usably since {row['blocked_since']}: "
                          f"{row['error'] or '?'}")  # fmt: skip
            else:
                since = row["progress_at"] or row["submitted_at"] or row["created_at"]
                reason = (f"no progress at the panel since {since} "
                          f"(status {row['panel_status'] or row['status']!r})")  # fmt: skip
            now = self.ctx.now_iso()
            async with self.ctx.db.transaction() as conn:
                ok = await orders.update(
                    conn, row["id"], st.POLLED,
                    {"status": st.NEEDS_REVIEW, "error": reason[:500], "updated_at": now,
                     "next_poll_at": None},
                )  # fmt: skip
                if ok:
                    # One alert per episode: an order re-attached and stuck again alerts again.
                    await notices.order_review(conn, cfg, row, reason, now, episode=now)
                    moved += 1
        if moved:
            log.warning("%d stuck orders moved to the review queue", moved)
        return moved

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
        rows = await orders.refills_in_flight(self.ctx.db.reader)
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
