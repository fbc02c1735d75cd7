"""topups table: bank-transfer requests, Stars payments and paid card checkouts."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import aiosqlite

from storage.columns import set_clause
from storage.errors import DuplicatePendingTopup
from storage.rows import one as first_row

UPDATABLE = frozenset({"status", "decided_by", "decided_at", "reason", "receipt_file_id"})


async def insert(
    conn: aiosqlite.Connection,
    *,
    user_id: int,
    method: str,
    amount: int,
    status: str,
    now: str,
    depositor: str | None = None,
    external_id: str | None = None,
    stars: int | None = None,
    receipt_url: str | None = None,
    pay_method: str | None = None,
) -> int:
    try:
        cur = await conn.execute(
            """INSERT INTO topups (user_id, method, amount, depositor, status, external_id,
                                   stars, created_at, receipt_url, pay_method)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (user_id, method, amount, depositor, status, external_id, stars, now, receipt_url,
             pay_method),
        )  # fmt: skip
    except sqlite3.IntegrityError as exc:
        if "topups.user_id, topups.amount, topups.depositor" in str(exc):
            raise DuplicatePendingTopup from exc
        raise
    assert cur.lastrowid is not None
    return cur.lastrowid


async def get(conn: aiosqlite.Connection, topup_id: int) -> aiosqlite.Row | None:
    return first_row(await conn.execute_fetchall("SELECT * FROM topups WHERE id = ?", (topup_id,)))


async def get_by_external(conn: aiosqlite.Connection, external_id: str) -> aiosqlite.Row | None:
    return first_row(
        await conn.execute_fetchall("SELECT * FROM topups WHERE external_id = ?", (external_id,))
    )


async def update(
    conn: aiosqlite.Connection, topup_id: int, expect_status: str, fields: Mapping[str, Any]
) -> bool:
    """Compare-and-set: only a request still in ``expect_status`` changes."""
    sql = (
        f"UPDATE topups SET {set_clause(UPDATABLE, fields)} "  # noqa: S608 - allow-listed
        "WHERE id = ? AND status = ?"
    )
    cur = await conn.execute(sql, (*fields.values(), topup_id, expect_status))
    return cur.rowcount == 1


async def pending(conn: aiosqlite.Connection, user_id: int | None = None) -> list[aiosqlite.Row]:
    if user_id is None:
        sql, args = "SELECT * FROM topups WHERE status = 'pending' ORDER BY id", ()
    else:
        sql = "SELECT * FROM topups WHERE status = 'pending' AND user_id = ? ORDER BY id"
        args = (user_id,)
    return list(await conn.execute_fetchall(sql, args))


async def pending_before(conn: aiosqlite.Connection, before: str) -> list[aiosqlite.Row]:
    sql = """SELECT * FROM topups WHERE status = 'pending' AND method = 'bank'
             AND created_at <= ? ORDER BY id"""
    return list(await conn.execute_fetchall(sql, (before,)))
