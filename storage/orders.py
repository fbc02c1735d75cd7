"""orders table. Status changes are compare-and-set on the current status."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from storage.columns import set_clause
from storage.errors import Conflict, DuplicateActiveJob, DuplicateConfirmation, DuplicatePanelOrder
from storage.rows import one as first_row

INSERTABLE = (
    "user_id", "service_id", "confirm_token", "kind", "link", "job_key", "quantity", "runs",
    "interval", "comments", "username", "sub_min", "sub_max", "sub_posts", "sub_delay",
    "sub_expiry", "price", "price_per_1000", "rate", "exchange_rate", "status", "created_at",
    "updated_at", "service_type", "package_qty",
)  # fmt: skip

UPDATABLE = frozenset(
    {
        "status", "panel_order_id", "panel_status", "charge", "remains", "start_count",
        "delivered", "refunded", "error", "updated_at", "submitted_at", "started_at",
        "finished_at", "next_poll_at", "poll_failures", "late_alerted_at",
        "cancel_requested_at", "refill_id", "refill_status", "refill_requested_at",
        "charge_seen", "progress_at", "blocked_since", "package_qty",
    }
)  # fmt: skip


def _conflict(exc: sqlite3.IntegrityError) -> Conflict | None:
    """The uniqueness rule an order write broke, as the shop's own error type (None for a
    CHECK failure: that is a bug, not a business answer)."""
    text = str(exc)
    if "orders.service_id, orders.job_key" in text:
        return DuplicateActiveJob(text)
    if "orders.confirm_token" in text:
        return DuplicateConfirmation(text)
    if "orders.panel_order_id" in text:
        return DuplicatePanelOrder(text)
    return Conflict(text) if "UNIQUE" in text else None


ACTIVE = ("created", "submitting", "pending", "processing", "in_progress", "needs_review")
POLLABLE = ("pending", "processing", "in_progress")


async def insert(conn: aiosqlite.Connection, values: Mapping[str, Any]) -> int:
    cols = [c for c in INSERTABLE if c in values]
    sql = (
        f"INSERT INTO orders ({', '.join(cols)}) "  # noqa: S608 - allow-listed names
        f"VALUES ({', '.join('?' * len(cols))})"
    )
    try:
        cur = await conn.execute(sql, [values[c] for c in cols])
    except sqlite3.IntegrityError as exc:
        if (conflict := _conflict(exc)) is None:
            raise
        raise conflict from exc
    assert cur.lastrowid is not None
    return cur.lastrowid


async def get(conn: aiosqlite.Connection, order_id: int) -> aiosqlite.Row | None:
    return first_row(await conn.execute_fetchall("SELECT * FROM orders WHERE id = ?", (order_id,)))


async def get_by_token(conn: aiosqlite.Connection, token: str) -> aiosqlite.Row | None:
    return first_row(
        await conn.execute_fetchall("SELECT * FROM orders WHERE confirm_token = ?", (token,))
    )


async def find_active_job(
    conn: aiosqlite.Connection, service_id: int, job_key: str
) -> aiosqlite.Row | None:
    sql = """SELECT * FROM orders WHERE service_id = ? AND job_key = ?
             AND status IN (SELECT value FROM json_each(?))"""
    return first_row(await conn.execute_fetchall(sql, (service_id, job_key, json.dumps(ACTIVE))))


async def update(
    conn: aiosqlite.Connection,
    order_id: int,
    expect_status: str | Iterable[str],
    fields: Mapping[str, Any],
) -> bool:
    """Set ``fields`` only if the order's status is one of ``expect_status``."""
    expected = (expect_status,) if isinstance(expect_status, str) else tuple(expect_status)
    sql = (
        f"UPDATE orders SET {set_clause(UPDATABLE, fields)} "  # noqa: S608 - allow-listed
        "WHERE id = ? AND status IN (SELECT value FROM json_each(?))"
    )
    try:
        cur = await conn.execute(sql, (*fields.values(), order_id, json.dumps(expected)))
    except sqlite3.IntegrityError as exc:
        if (conflict := _conflict(exc)) is None:
            raise
        raise conflict from exc
    return cur.rowcount == 1


async def list_for_user(
    conn: aiosqlite.Connection, user_id: int, limit: int, offset: int
) -> list[aiosqlite.Row]:
    sql = """SELECT o.*, s.name AS service_name FROM orders o
             JOIN services s ON s.id = o.service_id
             WHERE o.user_id = ? ORDER BY o.id DESC LIMIT ? OFFSET ?"""
    return list(await conn.execute_fetchall(sql, (user_id, limit, offset)))


async def count_for_user(conn: aiosqlite.Connection, user_id: int) -> int:
    row = first_row(
        await conn.execute_fetchall("SELECT COUNT(*) FROM orders WHERE user_id = ?", (user_id,))
    )
    return int(row[0])


async def with_status(
    conn: aiosqlite.Connection, statuses: Iterable[str], limit: int = 100_000
) -> list[aiosqlite.Row]:
    sql = """SELECT * FROM orders WHERE status IN (SELECT value FROM json_each(?))
             ORDER BY id LIMIT ?"""
    async with conn.execute(sql, (json.dumps(tuple(statuses)), limit)) as cur:
        return list(await cur.fetchall())


async def refills_in_flight(conn: aiosqlite.Connection) -> list[aiosqlite.Row]:
    """Completed orders with a refill request the panel has not finished."""
    sql = """SELECT * FROM orders WHERE status = 'completed' AND refill_id IS NOT NULL
             AND refill_status IN ('pending', 'in_progress') ORDER BY id"""
    return list(await conn.execute_fetchall(sql))


async def due_for_poll(conn: aiosqlite.Connection, now: str, limit: int) -> list[aiosqlite.Row]:
    sql = """SELECT id, panel_order_id, kind, poll_failures FROM orders
             WHERE status IN (SELECT value FROM json_each(?)) AND panel_order_id IS NOT NULL
             AND (next_poll_at IS NULL OR next_poll_at <= ?) ORDER BY id LIMIT ?"""
    return list(await conn.execute_fetchall(sql, (json.dumps(POLLABLE), now, limit)))


async def stuck(
    conn: aiosqlite.Connection, blocked_before: str, still_before: str
) -> list[aiosqlite.Row]:
    """Polled orders the panel has answered only unusably since ``blocked_before``, or
    (ordinary orders; a subscription may wait for posts for ever) whose answer has not
    moved since ``still_before``."""
    sql = """SELECT * FROM orders WHERE status IN ('pending', 'processing', 'in_progress')
             AND ((blocked_since IS NOT NULL AND blocked_since <= ?)
                  OR (kind = 'order'
                      AND COALESCE(progress_at, submitted_at, created_at) <= ?))
             ORDER BY id"""
    return list(await conn.execute_fetchall(sql, (blocked_before, still_before)))


async def not_started_since(conn: aiosqlite.Connection, before: str) -> list[aiosqlite.Row]:
    """Orders still queued at the panel since ``before`` that nobody was alerted about."""
    sql = """SELECT * FROM orders WHERE status IN ('pending', 'processing')
             AND submitted_at <= ? AND late_alerted_at IS NULL ORDER BY id"""
    return list(await conn.execute_fetchall(sql, (before,)))


async def total_spent(conn: aiosqlite.Connection, user_id: int) -> int:
    sql = "SELECT COALESCE(SUM(price - refunded), 0) FROM orders WHERE user_id = ?"
    row = first_row(await conn.execute_fetchall(sql, (user_id,)))
    return int(row[0])


async def get_many(conn: aiosqlite.Connection, order_ids: list[int]) -> dict[int, aiosqlite.Row]:
    sql = "SELECT * FROM orders WHERE id IN (SELECT value FROM json_each(?))"
    return {r["id"]: r for r in await conn.execute_fetchall(sql, (json.dumps(order_ids),))}


async def update_returning(
    conn: aiosqlite.Connection,
    order_id: int,
    expect_status: str | Iterable[str],
    fields: Mapping[str, Any],
) -> aiosqlite.Row | None:
    """Like ``update`` but returns the changed row (None when the status did not match)."""
    expected = (expect_status,) if isinstance(expect_status, str) else tuple(expect_status)
    sql = (
        f"UPDATE orders SET {set_clause(UPDATABLE, fields)} "  # noqa: S608 - allow-listed
        "WHERE id = ? AND status IN (SELECT value FROM json_each(?)) RETURNING *"
    )
    try:
        rows = await conn.execute_fetchall(sql, (*fields.values(), order_id, json.dumps(expected)))
    except sqlite3.IntegrityError as exc:
        if (conflict := _conflict(exc)) is None:
            raise
        raise conflict from exc
    return first_row(rows)


PROGRESS_COLUMNS = (
    "status", "panel_status", "updated_at", "remains", "start_count", "charge",
    "poll_failures", "next_poll_at", "started_at", "charge_seen", "progress_at",
    "blocked_since", "package_qty", "error",
)  # fmt: skip


async def update_progress_many(
    conn: aiosqlite.Connection, changes: list[tuple[int, Mapping[str, Any]]]
) -> None:
    """Many plain progress updates in one statement (still compare-and-set per order: an
    order that finished meanwhile is left alone)."""
    if not changes:
        return
    sql = (
        f"UPDATE orders SET {set_clause(UPDATABLE, PROGRESS_COLUMNS)} "  # noqa: S608 - allow-listed
        "WHERE id = ? AND status IN ('pending', 'processing', 'in_progress')"
    )
    await conn.executemany(
        sql, [(*(f[c] for c in PROGRESS_COLUMNS), order_id) for order_id, f in changes]
    )
