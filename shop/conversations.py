"""Where a front that keeps no state of its own (KakaoTalk) keeps each customer's place in
the conversation: the chat layer's JSON-able state, one record per (front, customer), in
the shop database, so a restart resumes at the same step. Shop data never lives here."""

from __future__ import annotations

from typing import Any

from shop.context import ShopContext
from storage import kv


def _namespace(front: str) -> str:
    return f"conversation:{front}"


class ConversationService:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx

    async def load(self, front: str, user_id: int) -> dict[str, Any]:
        value = await kv.get(self.ctx.db.reader, _namespace(front), str(user_id))
        return value if isinstance(value, dict) else {}

    async def save(self, front: str, user_id: int, state: dict[str, Any]) -> None:
        async with self.ctx.db.transaction() as conn:
            await kv.put(conn, _namespace(front), str(user_id), state, self.ctx.now_iso())
