"""admin_login_tokens and admin_sessions: the console's one-time links and sessions.

Only hashes of the secrets are stored; the shop hashes what the browser presents.
"""

from __future__ import annotations

import aiosqlite

from storage.rows import one as first_row


async def insert_login(
    conn: aiosqlite.Connection, token_hash: str, admin_id: int, now: str, expires_at: str
) -> None:
    await conn.execute(
        """INSERT INTO admin_login_tokens (token_hash, admin_id, created_at, expires_at)
           VALUES (?, ?, ?, ?)""",
        (token_hash, admin_id, now, expires_at),
    )


async def purge_logins(conn: aiosqlite.Connection, now: str) -> None:
    """Links that can no longer be used are dropped."""
    await conn.execute(
        "DELETE FROM admin_login_tokens WHERE expires_at <= ? OR used_at IS NOT NULL", (now,)
    )


async def use_login(conn: aiosqlite.Connection, token_hash: str, now: str) -> int | None:
    """Mark an unused, unexpired link used (compare-and-set); the admin id, or None."""
    row = first_row(
        await conn.execute_fetchall(
            """UPDATE admin_login_tokens SET used_at = ?
               WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
               RETURNING admin_id""",
            (now, token_hash, now),
        )
    )
    return None if row is None else int(row[0])


async def insert_session(
    conn: aiosqlite.Connection,
    id_hash: str,
    admin_id: int,
    language: str,
    user_agent: str | None,
    now: str,
) -> None:
    await conn.execute(
        """INSERT INTO admin_sessions (id_hash, admin_id, language, user_agent, created_at,
                                       last_seen_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (id_hash, admin_id, language, user_agent, now, now),
    )


async def get_session(conn: aiosqlite.Connection, id_hash: str) -> aiosqlite.Row | None:
    sql = "SELECT * FROM admin_sessions WHERE id_hash = ? AND ended_at IS NULL"
    return first_row(await conn.execute_fetchall(sql, (id_hash,)))


async def touch_session(conn: aiosqlite.Connection, id_hash: str, now: str) -> None:
    await conn.execute(
        "UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ? AND ended_at IS NULL",
        (now, id_hash),
    )


async def end_session(conn: aiosqlite.Connection, id_hash: str, now: str) -> None:
    await conn.execute(
        "UPDATE admin_sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL",
        (now, id_hash),
    )


async def purge_sessions(conn: aiosqlite.Connection, before: str) -> None:
    """Sessions ended, or idle since ``before``, are dropped."""
    await conn.execute(
        "DELETE FROM admin_sessions WHERE ended_at IS NOT NULL OR last_seen_at < ?", (before,)
    )


async def set_language(conn: aiosqlite.Connection, id_hash: str, language: str) -> None:
    await conn.execute(
        "UPDATE admin_sessions SET language = ? WHERE id_hash = ?", (language, id_hash)
    )
