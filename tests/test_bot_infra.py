"""bot/ infrastructure: secret masking in logs, per-user ordering, persistence round trip."""

from __future__ import annotations

import asyncio
import logging

from telegram import Chat, Message, Update, User

from bot.logging_setup import SecretFilter
from bot.persistence import SQLitePersistence
from bot.processor import PerUserUpdateProcessor
from storage.db import Database

SECRET = "424242:TeSt-BoT-ToKeN-qwerty"


def test_secret_filter_masks_messages_and_tracebacks(caplog):
    logger = logging.getLogger("test.secrets")
    flt = SecretFilter([SECRET])
    caplog.handler.addFilter(flt)
    try:
        logger.error("calling https://api/bot%s/getMe", SECRET)
        try:
            raise RuntimeError(f"boom {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        caplog.handler.removeFilter(flt)
    assert SECRET not in caplog.text
    assert "***" in caplog.text


def _update(update_id: int, user_id: int) -> Update:
    user = User(user_id, "x", False)
    msg = Message(update_id, None, Chat(user_id, "private"), from_user=user, text="hi")
    return Update(update_id, message=msg)


async def test_processor_serializes_one_user_but_not_others():
    proc = PerUserUpdateProcessor(16)
    order: list[str] = []
    gate = asyncio.Event()

    async def slow(tag: str) -> None:
        order.append(f"{tag}:start")
        await gate.wait()
        order.append(f"{tag}:end")

    async def fast(tag: str) -> None:
        order.append(tag)

    a1 = asyncio.create_task(proc.do_process_update(_update(1, 1), slow("a1")))
    await asyncio.sleep(0)
    a2 = asyncio.create_task(proc.do_process_update(_update(2, 1), fast("a2")))
    b1 = asyncio.create_task(proc.do_process_update(_update(3, 2), fast("b1")))
    await b1  # another customer is served while customer 1 waits
    assert order == ["a1:start", "b1"]
    gate.set()
    await asyncio.gather(a1, a2)
    assert order == ["a1:start", "b1", "a1:end", "a2"]  # customer 1 strictly in order
    assert proc._locks == {}  # idle customers are forgotten


async def test_persistence_round_trip(tmp_path):
    async with Database(tmp_path / "p.sqlite3") as db:
        p = SQLitePersistence(db)
        await p.update_conversation("order", (5, 5), "QUANTITY")
        await p.update_user_data(5, {"order": {"service_id": 3, "link": "https://x.com/a"}})
    async with Database(tmp_path / "p.sqlite3") as db:
        p = SQLitePersistence(db)
        assert await p.get_conversations("order") == {(5, 5): "QUANTITY"}
        assert (await p.get_user_data())[5]["order"]["link"] == "https://x.com/a"
        await p.update_conversation("order", (5, 5), None)
        assert await p.get_conversations("order") == {}


async def test_persistence_skips_unchanged_user_data(tmp_path):
    """PTB's periodic flush re-offers every user's data; only a change reaches the writer."""
    async with Database(tmp_path / "p.sqlite3") as db:
        p = SQLitePersistence(db)
        writes = 0
        real = db.transaction

        def counting():
            nonlocal writes
            writes += 1
            return real()

        db.transaction = counting  # type: ignore[method-assign]
        state = {"chat": {"flow": "order", "step": "link", "seq": 3}}
        await p.update_user_data(7, state)
        await p.update_user_data(7, {"chat": {"seq": 3, "step": "link", "flow": "order"}})
        assert writes == 1  # same content, other key order: no second write
        await p.update_user_data(7, {"chat": {"flow": "order", "step": "quantity", "seq": 4}})
        assert writes == 2
        await p.drop_user_data(7)
        await p.update_user_data(7, {"chat": {"flow": "order", "step": "quantity", "seq": 4}})
        assert writes == 4  # after a drop the same data is stored again
        assert (await p.get_user_data())[7]["chat"]["step"] == "quantity"
    async with Database(tmp_path / "p.sqlite3") as db:
        p = SQLitePersistence(db)
        await p.get_user_data()  # what a restart loads counts as stored
        writes = 0
        real = db.transaction
        db.transaction = counting  # type: ignore[method-assign]
        await p.update_user_data(7, {"chat": {"flow": "order", "step": "quantity", "seq": 4}})
        assert writes == 0
