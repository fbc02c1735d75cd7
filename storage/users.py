"""users table."""

from __future__ import annotations

import aiosqlite

from storage.rows import one as first_row


async def get(conn: aiosqlite.Connection, user_id: int) -> aiosqlite.Row | None:
    return first_row(await conn.execute_fetchall("SELECT * FROM users WHERE id = ?", (user_id,)))


async def get_by_telegram(conn: aiosqlite.Connection, telegram_id: int) -> aiosqlite.Row | None:
    return first_row(
        await conn.execute_fetchall("SELECT * FROM users WHERE telegram_id = ?", (telegram_id,))
    )


async def list_by_username(
    conn: aiosqlite.Connection, username: str, limit: int = 20
) -> list[aiosqlite.Row]:
    """Every customer stored with this @username. Usernames change hands on Telegram, so
    a stale one can sit on an old row while a newer customer holds it now."""
    sql = "SELECT * FROM users WHERE username = ? COLLATE NOCASE ORDER BY id LIMIT ?"
    return list(await conn.execute_fetchall(sql, (username, limit)))


async def upsert_telegram(
    conn: aiosqlite.Connection,
    telegram_id: int,
    username: str | None,
    first_name: str,
    language: str,
    now: str,
) -> aiosqlite.Row:
    await conn.execute(
        """
        INSERT INTO users (telegram_id, front, external_id, username, first_name, language,
                           created_at, last_seen_at)
        VALUES (?, 'telegram', CAST(? AS TEXT), ?, ?, ?, ?, ?)
        ON CONFLICT (telegram_id) DO UPDATE SET
            username = excluded.username, first_name = excluded.first_name,
            language = excluded.language, last_seen_at = excluded.last_seen_at,
            blocked_at = NULL
        """,
        (telegram_id, telegram_id, username, first_name, language, now, now),
    )
    row = await get_by_telegram(conn, telegram_id)
    assert row is not None
    return row


async def get_by_external(
    conn: aiosqlite.Connection, front: str, external_id: str
) -> aiosqlite.Row | None:
    sql = "SELECT * FROM users WHERE front = ? AND external_id = ?"
    return first_row(await conn.execute_fetchall(sql, (front, external_id)))


async def upsert_external(
    conn: aiosqlite.Connection,
    front: str,
    external_id: str,
    first_name: str,
    language: str,
    now: str,
) -> aiosqlite.Row:
    """A customer of a front without Telegram ids (KakaoTalk): keyed by (front, external_id)."""
    await conn.execute(
        """
        INSERT INTO users (front, external_id, first_name, language, created_at, last_seen_at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (front, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
            first_name = excluded.first_name, language = excluded.language,
            last_seen_at = excluded.last_seen_at, blocked_at = NULL
        """,
        (front, external_id, first_name, language, now, now),
    )
    row = await get_by_external(conn, front, external_id)
    assert row is not None
    return row


async def set_terms_accepted(conn: aiosqlite.Connection, user_id: int, now: str) -> None:
    await conn.execute(
        "UPDATE users SET terms_accepted_at = ? WHERE id = ? AND terms_accepted_at IS NULL",
        (now, user_id),
    )


async def set_blocked(conn: aiosqlite.Connection, user_id: int, now: str | None) -> None:
    await conn.execute("UPDATE users SET blocked_at = ? WHERE id = ?", (now, user_id))


async def list_reachable(conn: aiosqlite.Connection) -> list[aiosqlite.Row]:
    # Neither customers who blocked the bot nor customers the owner blocked.
    sql = "SELECT * FROM users WHERE blocked_at IS NULL AND banned_at IS NULL ORDER BY id"
    return list(await conn.execute_fetchall(sql))


async def set_banned(conn: aiosqlite.Connection, user_id: int, banned_at: str | None) -> bool:
    """Block (a time) or unblock (None); False when nothing changed."""
    cur = await conn.execute(
        "UPDATE users SET banned_at = ? WHERE id = ? AND (banned_at IS NULL) = ?",
        (banned_at, user_id, banned_at is not None),
    )
    return cur.rowcount == 1
