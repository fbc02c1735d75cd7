"""audit table: who did what to whom, with before/after."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite


async def record(
    conn: aiosqlite.Connection,
    *,
    actor_id: int,
    action: str,
    target: str | None,
    before: Any,
    after: Any,
    now: str,
) -> None:
    await conn.execute(
        """INSERT INTO audit (actor_id, action, target, before, after, created_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (
            actor_id, action, target, json.dumps(before, ensure_ascii=False, default=str),
            json.dumps(after, ensure_ascii=False, default=str), now,
        ),
    )  # fmt: skip


async def recent(conn: aiosqlite.Connection, limit: int = 50) -> list[aiosqlite.Row]:
    return list(
        await conn.execute_fetchall("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
    )
