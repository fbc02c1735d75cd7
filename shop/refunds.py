"""Refunding an order that never ran, in full: one ledger row and the customer's notice.

Used by an automatic panel rejection and by an admin's refund from the review queue; both
use the same ledger key, so the two can never both pay.
"""

from __future__ import annotations

from typing import Any

from shop import notices
from storage import ledger, users
from storage.ledger import Posting
from storage.rows import Connection


async def refund_failed_order(
    conn: Connection, row: Any, *, note: str, now: str, actor: int | None = None
) -> Any:
    """Call inside the transaction that marked the order failed; returns the user row."""
    oid = row["id"]
    await ledger.post(
        conn,
        Posting(row["user_id"], row["price"], "refund", f"order:{oid}:refund", oid, note=note,
                actor=actor),
        now,
    )  # fmt: skip
    user = await users.get(conn, row["user_id"])
    await notices.to_user(
        conn, user_row=user, key=f"order:{oid}:failed", event="order_failed",
        payload={"order_id": oid, "balance": user["balance"]}, now=now,
    )  # fmt: skip
    return user
