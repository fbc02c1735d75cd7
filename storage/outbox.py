"""outbox table: notifications written with the change that causes them."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite


async def enqueue(
    conn: aiosqlite.Connection,
    *,
    dedupe_key: str,
    chat_id: int | None,
    event: str,
    payload: dict[str, Any],
    now: str,
    user_id: int | None = None,
    front: str = "telegram",
) -> bool:
    """Queue one message for ``front`` to deliver; a second row with the same dedupe key is
    ignored. Telegram rows name the chat; other fronts find the customer by ``user_id``."""
    cur = await conn.execute(
        """INSERT INTO outbox (dedupe_key, front, chat_id, user_id, event, payload,
                               next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING""",
        (dedupe_key, front, chat_id, user_id, event, json.dumps(payload, ensure_ascii=False),
         now, now),
    )  # fmt: skip
    return cur.rowcount == 1


async def due(
    conn: aiosqlite.Connection, now: str, limit: int, front: str = "telegram"
) -> list[aiosqlite.Row]:
    sql = """SELECT * FROM outbox WHERE front = ? AND status = 'pending' AND next_attempt_at <= ?
             ORDER BY id LIMIT ?"""
    return list(await conn.execute_fetchall(sql, (front, now, limit)))


async def pending_for_user(
    conn: aiosqlite.Connection, user_id: int, limit: int
) -> list[aiosqlite.Row]:
    """A customer's undelivered news, oldest first (shown at their next message)."""
    sql = """SELECT * FROM outbox WHERE user_id = ? AND status = 'pending'
             ORDER BY id LIMIT ?"""
    return list(await conn.execute_fetchall(sql, (user_id, limit)))


async def mark(
    conn: aiosqlite.Connection, row_id: int, status: str, now: str, error: str | None = None
) -> None:
    await conn.execute(
        """UPDATE outbox SET status = ?, sent_at = ?, last_error = ?, attempts = attempts + 1,
                             push_task = NULL
           WHERE id = ? AND status = 'pending'""",
        (status, now, error, row_id),
    )


async def retry_later(
    conn: aiosqlite.Connection, row_id: int, next_attempt_at: str, error: str
) -> None:
    await conn.execute(
        """UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
                             push_task = NULL
           WHERE id = ? AND status = 'pending'""",
        (next_attempt_at, error, row_id),
    )


async def pushed(conn: aiosqlite.Connection, row_id: int, task: str, next_attempt_at: str) -> None:
    """Handed to a push service whose task ``task`` says later whether it arrived."""
    await conn.execute(
        """UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, push_task = ?,
                             last_error = 'pushed: task ' || ?
           WHERE id = ? AND status = 'pending'""",
        (next_attempt_at, task, task, row_id),
    )


async def in_push(conn: aiosqlite.Connection, front: str) -> list[aiosqlite.Row]:
    """Pending rows of ``front`` riding on a push task whose outcome is not known yet."""
    sql = """SELECT * FROM outbox WHERE push_task IS NOT NULL AND status = 'pending'
             AND front = ? ORDER BY id"""
    return list(await conn.execute_fetchall(sql, (front,)))


async def counts(conn: aiosqlite.Connection, prefix: str) -> dict[str, int]:
    sql = "SELECT status, COUNT(*) FROM outbox WHERE dedupe_key LIKE ? GROUP BY status"
    return {r[0]: r[1] for r in await conn.execute_fetchall(sql, (prefix + "%",))}
