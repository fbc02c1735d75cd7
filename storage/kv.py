"""kv table: a plain namespaced key-value store (JSON values).

Used for shop-wide flags and by the bot's conversation persistence; it knows nothing
about either.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from storage.rows import one as first_row


async def put(conn: aiosqlite.Connection, namespace: str, key: str, value: Any, now: str) -> None:
    await conn.execute(
        """INSERT INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
                                                      updated_at = excluded.updated_at""",
        (namespace, key, json.dumps(value, ensure_ascii=False), now),
    )


async def delete(conn: aiosqlite.Connection, namespace: str, key: str) -> None:
    await conn.execute("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key))


async def get(conn: aiosqlite.Connection, namespace: str, key: str) -> Any | None:
    sql = "SELECT value FROM kv WHERE namespace = ? AND key = ?"
    row = first_row(await conn.execute_fetchall(sql, (namespace, key)))
    return None if row is None else json.loads(row[0])


async def items(conn: aiosqlite.Connection, namespace: str) -> dict[str, Any]:
    sql = "SELECT key, value FROM kv WHERE namespace = ?"
    return {r[0]: json.loads(r[1]) for r in await conn.execute_fetchall(sql, (namespace,))}
