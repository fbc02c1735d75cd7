"""Conversation state and user_data that survive a restart, kept in the shop's SQLite.

PTB sees a ``BasePersistence``; the SQL is the plain key-value repository in storage/.
Shop data (balances, orders) never lives here; only "where is this customer in a
conversation" and the small drafts handlers keep in user_data.
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from shop.clock import SystemClock, iso
from storage import kv
from storage.db import Database

NS_CONV = "ptb.conversation"
NS_USER = "ptb.user_data"


class SQLitePersistence(BasePersistence[dict, dict, dict]):
    def __init__(self, db: Database, update_interval: float = 2.0) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.db = db
        self._clock = SystemClock()
        # What the table holds for each user, as JSON: the handlers write a customer's
        # state at every turn, so PTB's periodic flush finds it unchanged and skips it
        # instead of queueing a burst of identical writes behind the one writer.
        self._stored: dict[int, str] = {}

    def _now(self) -> str:
        return iso(self._clock.now())

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        stored = {int(k): v for k, v in (await kv.items(self.db.reader, NS_USER)).items()}
        self._stored = {k: _canonical(v) for k, v in stored.items()}
        return stored

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def get_conversations(self, name: str) -> dict:
        stored = await kv.items(self.db.reader, f"{NS_CONV}.{name}")
        return {tuple(json.loads(k)): v for k, v in stored.items()}

    async def update_conversation(self, name: str, key: tuple, new_state: object | None) -> None:
        ns, k = f"{NS_CONV}.{name}", json.dumps(list(key))
        async with self.db.transaction() as conn:
            if new_state is None:
                await kv.delete(conn, ns, k)
            else:
                await kv.put(conn, ns, k, new_state, self._now())

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        text = _canonical(data) if data else ""
        if self._stored.get(user_id, "") == text:
            return
        async with self.db.transaction() as conn:
            if data:
                await kv.put(conn, NS_USER, str(user_id), deepcopy(data), self._now())
            else:
                await kv.delete(conn, NS_USER, str(user_id))
        self._stored[user_id] = text

    async def drop_user_data(self, user_id: int) -> None:
        async with self.db.transaction() as conn:
            await kv.delete(conn, NS_USER, str(user_id))
        self._stored.pop(user_id, None)

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        pass

    async def drop_chat_data(self, chat_id: int) -> None:
        pass

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        pass

    async def update_callback_data(self, data: Any) -> None:
        pass

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        pass

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        pass

    async def flush(self) -> None:
        pass


def _canonical(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
