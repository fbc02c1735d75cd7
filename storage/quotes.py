"""quotes table: confirmation cards whose price is honoured when confirmed."""

from __future__ import annotations

import aiosqlite

from storage.rows import one as first_row


async def insert(
    conn: aiosqlite.Connection,
    token: str,
    user_id: int,
    service_id: int,
    params: str,
    price: int,
    price_per_1000: int,
    rate: str,
    now: str,
    expires_at: str,
) -> None:
    await conn.execute(
        """INSERT INTO quotes (token, user_id, service_id, params, price, price_per_1000, rate,
                               created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (token, user_id, service_id, params, price, price_per_1000, rate, now, expires_at),
    )


async def get(conn: aiosqlite.Connection, token: str) -> aiosqlite.Row | None:
    return first_row(await conn.execute_fetchall("SELECT * FROM quotes WHERE token = ?", (token,)))


async def purge_expired(conn: aiosqlite.Connection, before: str) -> int:
    """Drop quotes that expired and were never used for an order."""
    cur = await conn.execute(
        """DELETE FROM quotes WHERE expires_at < ?
           AND token NOT IN (SELECT confirm_token FROM orders)""",
        (before,),
    )
    return cur.rowcount


async def get_with_order(conn: aiosqlite.Connection, token: str) -> aiosqlite.Row | None:
    """The quote plus ``order_id``: the order already placed with it, if any."""
    sql = """SELECT q.*, o.id AS order_id FROM quotes q
             LEFT JOIN orders o ON o.confirm_token = q.token WHERE q.token = ?"""
    return first_row(await conn.execute_fetchall(sql, (token,)))
