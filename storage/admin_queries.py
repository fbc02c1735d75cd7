"""Read-only queries for the admin console: stats, review queue, customer lookup."""

from __future__ import annotations

import aiosqlite

from storage.rows import one as first_row


async def _one(conn: aiosqlite.Connection, sql: str, args: tuple) -> int:
    row = first_row(await conn.execute_fetchall(sql, args))
    return int(row[0] or 0)


async def customers(conn: aiosqlite.Connection, since: str | None = None) -> int:
    if since is None:
        return await _one(conn, "SELECT COUNT(*) FROM users", ())
    return await _one(conn, "SELECT COUNT(*) FROM users WHERE created_at >= ?", (since,))


async def orders_since(conn: aiosqlite.Connection, since: str) -> list[aiosqlite.Row]:
    """price, refunded, charge (decimal text or NULL) of every order created since."""
    sql = "SELECT price, refunded, charge, status FROM orders WHERE created_at >= ?"
    return list(await conn.execute_fetchall(sql, (since,)))


async def refunds_since(conn: aiosqlite.Connection, since: str) -> int:
    sql = """SELECT COALESCE(SUM(amount), 0) FROM ledger
             WHERE kind IN ('refund', 'reserve_release') AND created_at >= ?"""
    return await _one(conn, sql, (since,))


async def needs_review(conn: aiosqlite.Connection, limit: int = 20) -> list[aiosqlite.Row]:
    sql = """SELECT o.*, s.name AS service_name, s.panel_id AS service_panel_id,
                    u.telegram_id AS telegram_id
             FROM orders o JOIN services s ON s.id = o.service_id
             JOIN users u ON u.id = o.user_id
             WHERE o.status = 'needs_review' ORDER BY o.id LIMIT ?"""
    return list(await conn.execute_fetchall(sql, (limit,)))


async def recent_orders(
    conn: aiosqlite.Connection, user_id: int, limit: int
) -> list[aiosqlite.Row]:
    sql = """SELECT o.*, s.name AS service_name FROM orders o
             JOIN services s ON s.id = o.service_id
             WHERE o.user_id = ? ORDER BY o.id DESC LIMIT ?"""
    return list(await conn.execute_fetchall(sql, (user_id, limit)))


async def audit_for(conn: aiosqlite.Connection, target: str) -> list[aiosqlite.Row]:
    sql = "SELECT * FROM audit WHERE target = ? ORDER BY id"
    return list(await conn.execute_fetchall(sql, (target,)))
