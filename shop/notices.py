"""Outbox rows: written inside the transaction of the change that causes them.

Each row names an event and carries the facts as data; bot/ renders the text in the
customer's language when it sends. The dedupe key is per (subject, event), so a replayed
change cannot queue a second, different message.
"""

from __future__ import annotations

from typing import Any

from shop.settings import ShopSettings
from storage import outbox, users
from storage.rows import Connection


def who(user_row: Any) -> str:
    """How admins tell a customer apart across fronts: the Telegram id, or the shop's
    customer number for a KakaoTalk customer (``#12``: what the admin lookup takes)."""
    if user_row["front"] == "telegram" and user_row["telegram_id"] is not None:
        return f"telegram {user_row['telegram_id']}"
    return f"{user_row['front']} #{user_row['id']}"


async def to_user(
    conn: Connection,
    *,
    user_row: Any,
    key: str,
    event: str,
    payload: dict[str, Any],
    now: str,
) -> bool:
    """Queue news for a customer, delivered by the customer's own front."""
    front = user_row["front"]
    chat_id = user_row["telegram_id"] if front == "telegram" else None
    if front == "telegram" and chat_id is None:
        return False
    payload = {"lang": user_row["language"], **payload}
    return await outbox.enqueue(
        conn, dedupe_key=key, front=front, chat_id=chat_id, user_id=user_row["id"],
        event=event, payload=payload, now=now,
    )  # fmt: skip


async def to_admins(
    conn: Connection,
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


async def order_review(
    conn: Connection,
    settings: ShopSettings,
    row: Any,
    reason: str,
    now: str,
    *,
    episode: str | None = None,
) -> None:
    """An order went to the review queue: the customer is told it is being checked and
    every admin gets its facts (once per order, or once per ``episode`` when an order can
    come back to the queue)."""
    user = await users.get(conn, row["user_id"])
    oid = row["id"]
    suffix = "" if episode is None else f":{episode}"
    await to_user(
        conn, user_row=user, key=f"order:{oid}:review{suffix}", event="order_review",
        payload={"order_id": oid}, now=now,
    )  # fmt: skip
    await to_admins(
        conn, settings, key=f"order:{oid}:review{suffix}", event="admin_review",
        payload={"order_id": oid, "user_id": row["user_id"], "price": row["price"],
                 "link": row["link"] or row["username"], "reason": reason,
                 "panel_order_id": row["panel_order_id"]},
        now=now,
    )  # fmt: skip
