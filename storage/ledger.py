"""The append-only ledger: the only way a balance changes.

The ``ledger_apply`` trigger moves ``users.balance`` with every inserted row and the
balance CHECK refuses an overdraft, so a debit and its balance change cannot come apart.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import aiosqlite

from storage.errors import InsufficientBalance
from storage.rows import one as first_row


@dataclass(frozen=True, slots=True)
class Posting:
    user_id: int
    amount: int
    kind: str
    idem_key: str
    order_id: int | None = None
    topup_id: int | None = None
    note: str | None = None
    actor: int | None = None


async def post(conn: aiosqlite.Connection, p: Posting, now: str) -> bool:
    """Insert one ledger row. False (and nothing changed) when ``idem_key`` was used."""
    try:
        cur = await conn.execute(
            """
            INSERT INTO ledger (user_id, amount, kind, idem_key, order_id, topup_id,
                                balance_after, note, actor, created_at)
            SELECT ?, ?, ?, ?, ?, ?, balance + ?, ?, ?, ? FROM users WHERE id = ?
            ON CONFLICT (idem_key) DO NOTHING
            """,
            (
                p.user_id, p.amount, p.kind, p.idem_key, p.order_id, p.topup_id,
                p.amount, p.note, p.actor, now, p.user_id,
            ),
        )  # fmt: skip
    except sqlite3.IntegrityError as exc:
        if "balance >= 0" in str(exc):
            raise InsufficientBalance from exc
        raise
    if cur.rowcount == 1:
        return True
    # Zero rows: either the key was used (a replay) or the user does not exist.
    async with conn.execute("SELECT 1 FROM ledger WHERE idem_key = ?", (p.idem_key,)) as c:
        if await c.fetchone() is None:
            raise LookupError(f"no user {p.user_id}")
    return False


async def exists(conn: aiosqlite.Connection, idem_key: str) -> bool:
    return (
        first_row(
            await conn.execute_fetchall("SELECT 1 FROM ledger WHERE idem_key = ?", (idem_key,))
        )
        is not None
    )


async def recent(conn: aiosqlite.Connection, user_id: int, limit: int) -> list[aiosqlite.Row]:
    sql = "SELECT * FROM ledger WHERE user_id = ? ORDER BY id DESC LIMIT ?"
    return list(await conn.execute_fetchall(sql, (user_id, limit)))


async def for_order(conn: aiosqlite.Connection, order_id: int) -> list[aiosqlite.Row]:
    return list(
        await conn.execute_fetchall(
            "SELECT * FROM ledger WHERE order_id = ? ORDER BY id", (order_id,)
        )
    )


# Each query lists rows that break one invariant; an empty result means it holds.
INVARIANTS: dict[str, str] = {
    "balance equals the sum of the user's ledger rows": """
        SELECT u.id, u.balance, COALESCE(SUM(l.amount), 0) AS ledger_sum
        FROM users u LEFT JOIN ledger l ON l.user_id = u.id
        GROUP BY u.id HAVING u.balance <> COALESCE(SUM(l.amount), 0)""",
    "no negative balance": "SELECT id, balance FROM users WHERE balance < 0",
    "every order debit has its order and matches its price": """
        SELECT l.id, l.order_id, l.amount FROM ledger l
        LEFT JOIN orders o ON o.id = l.order_id
        WHERE l.kind = 'order' AND (o.id IS NULL OR -l.amount <> o.price
                                    OR o.user_id <> l.user_id)""",
    "every order has exactly one debit": """
        SELECT o.id, COUNT(l.id) AS debits FROM orders o
        LEFT JOIN ledger l ON l.order_id = o.id AND l.kind = 'order'
        GROUP BY o.id HAVING COUNT(l.id) <> 1""",
    "refunds of an order never exceed its price and match orders.refunded": """
        SELECT o.id, o.price, o.refunded, COALESCE(SUM(l.amount), 0) AS refunds FROM orders o
        LEFT JOIN ledger l ON l.order_id = o.id AND l.kind IN ('refund', 'reserve_release')
        GROUP BY o.id HAVING COALESCE(SUM(l.amount), 0) > o.price
                         OR COALESCE(SUM(l.amount), 0) <> o.refunded""",
    "at most one refund row per order": """
        SELECT order_id, COUNT(*) FROM ledger
        WHERE kind IN ('refund', 'reserve_release') AND order_id IS NOT NULL
        GROUP BY order_id HAVING COUNT(*) > 1""",
    "every top-up credit belongs to an approved or paid top-up, once": """
        SELECT l.id, l.topup_id FROM ledger l LEFT JOIN topups t ON t.id = l.topup_id
        WHERE l.kind = 'topup' AND (t.id IS NULL OR t.status NOT IN ('approved', 'paid')
                                    OR t.amount <> l.amount OR t.user_id <> l.user_id)""",
    "every approved or paid top-up was credited exactly once": """
        SELECT t.id, COUNT(l.id) FROM topups t
        LEFT JOIN ledger l ON l.topup_id = t.id AND l.kind = 'topup'
        WHERE t.status IN ('approved', 'paid') GROUP BY t.id HAVING COUNT(l.id) <> 1""",
    "failed and canceled orders are fully refunded": """
        SELECT id, status, price, refunded FROM orders
        WHERE status IN ('failed', 'canceled') AND refunded <> price""",
}


async def check_invariants(conn: aiosqlite.Connection) -> dict[str, list[tuple]]:
    """Map each invariant to the rows that violate it (empty lists: all good)."""
    found: dict[str, list[tuple]] = {}
    for name, sql in INVARIANTS.items():
        found[name] = [tuple(r) for r in await conn.execute_fetchall(sql)]
    return found


async def summary(conn: aiosqlite.Connection) -> tuple[int, int, int, int]:
    """(users, orders, ledger rows, sum of balances)."""
    sql = """SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM orders),
                    (SELECT COUNT(*) FROM ledger), (SELECT COALESCE(SUM(balance), 0) FROM users)"""
    row = first_row(await conn.execute_fetchall(sql))
    return (row[0], row[1], row[2], row[3])
