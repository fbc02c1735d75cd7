"""Outbox rows: written inside the transaction of the change that causes them.

Each row names an event and carries the facts as data; bot/ renders the text in the
customer's language when it sends. The dedupe key is per (subject, event), so a replayed
change cannot queue a second, different message.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from shop.settings import ShopSettings
from storage import outbox


async def to_user(
    conn: aiosqlite.Connection,
    *,
    user_row: Any,
    key: str,
    event: str,
    payload: dict[str, Any],
    now: str,
) -> bool:
    if user_row["telegram_id"] is None:
        return False
    payload = {"lang": user_row["language"], **payload}
    return await outbox.enqueue(
        conn, dedupe_key=key, chat_id=user_row["telegram_id"], user_id=user_row["id"],
        event=event, payload=payload, now=now,
    )  # fmt: skip


async def to_admins(
    conn: aiosqlite.Connection,
    settings: ShopSettings,
    *,
    key: str,
    event: str,
    payload: dict[str, Any],
    now: str,
) -> int:
    """One row per admin (dedupe key per admin), so each admin is alerted once."""
    sent = 0
    for admin_id in settings.admin_ids:
        sent += await outbox.enqueue(
            conn, dedupe_key=f"admin:{admin_id}:{key}", chat_id=admin_id, event=event,
            payload={"lang": "ko", **payload}, now=now,
        )  # fmt: skip
    return sent
