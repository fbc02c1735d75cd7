"""Where each admin alert was delivered, so a decision can update every admin's copy."""

from __future__ import annotations

from shop.context import ShopContext
from storage import kv

NS = "alert_messages"


class AlertService:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx

    async def remember(self, subject: str, chat_id: int, message_id: int) -> None:
        async with self.ctx.db.transaction() as conn:
            known = await kv.get(conn, NS, subject) or {}
            known[str(chat_id)] = message_id
            await kv.put(conn, NS, subject, known, self.ctx.now_iso())

    async def copies(self, subject: str) -> dict[int, int]:
        """chat id → message id of every delivered copy of the alert about ``subject``."""
        known = await kv.get(self.ctx.db.reader, NS, subject) or {}
        return {int(chat): int(msg) for chat, msg in known.items()}
