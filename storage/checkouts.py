"""checkouts table: card payment attempts (our orderId, the pay page's token, the state)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiosqlite

from storage.columns import set_clause
from storage.rows import one as first_row

UPDATABLE = frozenset(
    {
        "status", "payment_key", "method", "receipt_url", "topup_id", "failure_code",
        "failure_message", "confirming_at", "settled_at",
    }
)  # fmt: skip


async def insert(
    conn: aiosqlite.Connection,
    *,
    order_id: str,
    token: str,
    user_id: int,
    provider: str,
    amount: int,
    now: str,
    expires_at: str,
) -> int:
    cur = await conn.execute(
        """INSERT INTO checkouts (order_id, token, user_id, provider, amount, status,
                                  created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, 'ready', ?, ?)""",
        (order_id, token, user_id, provider, amount, now, expires_at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def get(conn: aiosqlite.Connection, checkout_id: int) -> aiosqlite.Row | None:
    sql = "SELECT * FROM checkouts WHERE id = ?"
    return first_row(await conn.execute_fetchall(sql, (checkout_id,)))


async def by_token(conn: aiosqlite.Connection, token: str) -> aiosqlite.Row | None:
    sql = "SELECT * FROM checkouts WHERE token = ?"
    return first_row(await conn.execute_fetchall(sql, (token,)))


async def by_order(conn: aiosqlite.Connection, order_id: str) -> aiosqlite.Row | None:
    sql = "SELECT * FROM checkouts WHERE order_id = ?"
    return first_row(await conn.execute_fetchall(sql, (order_id,)))


async def by_payment_key(conn: aiosqlite.Connection, payment_key: str) -> aiosqlite.Row | None:
    sql = "SELECT * FROM checkouts WHERE payment_key = ?"
    return first_row(await conn.execute_fetchall(sql, (payment_key,)))


async def update(
    conn: aiosqlite.Connection,
    checkout_id: int,
    expect: str | tuple[str, ...],
    fields: Mapping[str, Any],
    *,
    expect_payment_key: str | None = None,
) -> bool:
    """Compare-and-set: only a checkout still in ``expect`` (and, if given, still holding
    ``expect_payment_key``) changes."""
    statuses = (expect,) if isinstance(expect, str) else expect
    marks = ", ".join("?" for _ in statuses)
    sql = (
        f"UPDATE checkouts SET {set_clause(UPDATABLE, fields)} "  # noqa: S608 - allow-listed
        f"WHERE id = ? AND status IN ({marks})"
    )
    args: list[Any] = [*fields.values(), checkout_id, *statuses]
    if expect_payment_key is not None:
        sql += " AND payment_key = ?"
        args.append(expect_payment_key)
    cur = await conn.execute(sql, args)
    return cur.rowcount == 1


async def unsettled(conn: aiosqlite.Connection, now: str, limit: int) -> list[aiosqlite.Row]:
    """What the reconciler looks at: every confirming checkout, and ready ones past expiry."""
    sql = """SELECT * FROM checkouts
             WHERE status = 'confirming' OR (status = 'ready' AND expires_at <= ?)
             ORDER BY id LIMIT ?"""
    return list(await conn.execute_fetchall(sql, (now, limit)))


async def recent_card_topups(conn: aiosqlite.Connection, limit: int) -> list[aiosqlite.Row]:
    """Paid card top-ups, newest first (admin view)."""
    sql = "SELECT * FROM topups WHERE method = 'card' ORDER BY id DESC LIMIT ?"
    return list(await conn.execute_fetchall(sql, (limit,)))
