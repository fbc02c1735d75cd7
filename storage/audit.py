"""audit table: who did what to whom, with before/after, and from where (chat, web, cli)."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

import aiosqlite

SOURCES = ("chat", "web", "cli")
# Where the admin action being handled comes from. The fronts set it around a request
# (shop.access.acting_from), so every use-case's audit row says where it was done without
# each use-case taking a parameter for it.
current_source: ContextVar[str] = ContextVar("audit_source", default="chat")


async def record(
    conn: aiosqlite.Connection,
    *,
    actor_id: int,
    action: str,
    target: str | None,
    before: Any,
    after: Any,
    now: str,
    source: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit (actor_id, action, target, before, after, created_at, source)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (
            actor_id, action, target, json.dumps(before, ensure_ascii=False, default=str),
            json.dumps(after, ensure_ascii=False, default=str), now,
            source or current_source.get(),
        ),
    )  # fmt: skip


async def recent(conn: aiosqlite.Connection, limit: int = 50) -> list[aiosqlite.Row]:
    return list(
        await conn.execute_fetchall("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
    )
