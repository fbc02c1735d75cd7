"""Storage on a real SQLite file: schema, ledger trigger, invariants, idempotency."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from storage import kv, ledger, users
from storage.db import Database, StorageError
from storage.errors import InsufficientBalance
from storage.ledger import Posting

NOW = "2026-11-25T01:00:00.000000+00:00"


@pytest.fixture
async def db(tmp_path):
    async with Database(tmp_path / "shop.sqlite3") as database:
        yield database


async def _user(db: Database, tg: int = 1) -> int:
    async with db.transaction() as conn:
        row = await users.upsert_telegram(conn, tg, "name", "이름", "ko", NOW)
    return row["id"]


async def test_wal_foreign_keys_and_version(db: Database):
    mode = await db.fetch_one("PRAGMA journal_mode")
    assert mode[0] == "wal"
    fk = await db.fetch_one("PRAGMA foreign_keys")
    assert fk[0] == 1
    version = await db.fetch_one("PRAGMA user_version")
    assert version[0] == db.schema_version >= 1


async def test_migrations_apply_once(tmp_path):
    path = tmp_path / "again.sqlite3"
    async with Database(path) as first:
        uid = await _user(first)
    async with Database(path) as second:  # reopening must not re-run 0001
        assert (await users.get(second.reader, uid))["first_name"] == "이름"


async def test_ledger_moves_balance_and_replay_is_noop(db: Database):
    uid = await _user(db)
    async with db.transaction() as conn:
        assert await ledger.post(conn, Posting(uid, 10_000, "topup", "t:1"), NOW)
        assert not await ledger.post(conn, Posting(uid, 10_000, "topup", "t:1"), NOW)
    row = await users.get(db.reader, uid)
    assert row["balance"] == 10_000
    entries = await ledger.recent(db.reader, uid, 10)
    assert [(e["amount"], e["balance_after"]) for e in entries] == [(10_000, 10_000)]


async def test_overdraft_is_refused_and_nothing_half_written(db: Database):
    uid = await _user(db)
    async with db.transaction() as conn:
        await ledger.post(conn, Posting(uid, 500, "topup", "t:1"), NOW)
    with pytest.raises(InsufficientBalance):
        async with db.transaction() as conn:
            await kv.put(conn, "x", "y", 1, NOW)  # part of the same transaction
            await ledger.post(conn, Posting(uid, -501, "adjustment", "a:1"), NOW)
    assert (await users.get(db.reader, uid))["balance"] == 500
    assert await kv.get(db.reader, "x", "y") is None  # rolled back with the debit
    assert not await ledger.exists(db.reader, "a:1")


async def test_ledger_is_append_only(db: Database):
    uid = await _user(db)
    async with db.transaction() as conn:
        await ledger.post(conn, Posting(uid, 100, "topup", "t:1"), NOW)
    for sql in ("UPDATE ledger SET amount = 1", "DELETE FROM ledger"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            async with db.transaction() as conn:
                await conn.execute(sql)


async def test_direct_balance_edit_is_caught_by_check(db: Database):
    uid = await _user(db)
    assert all(not rows for rows in (await ledger.check_invariants(db.reader)).values())
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET balance = 999 WHERE id = ?", (uid,))
    found = await ledger.check_invariants(db.reader)
    assert found["balance equals the sum of the user's ledger rows"] == [(uid, 999, 0)]


async def test_concurrent_debits_never_overdraw(db: Database):
    uid = await _user(db)
    async with db.transaction() as conn:
        await ledger.post(conn, Posting(uid, 1000, "topup", "t:1"), NOW)

    async def debit(i: int) -> bool:
        try:
            async with db.transaction() as conn:
                await ledger.post(conn, Posting(uid, -100, "adjustment", f"d:{i}"), NOW)
            return True
        except InsufficientBalance:
            return False

    results = await asyncio.gather(*(debit(i) for i in range(50)))
    assert sum(results) == 10
    assert (await users.get(db.reader, uid))["balance"] == 0


async def test_read_only_file_gives_clear_error(tmp_path):
    path = tmp_path / "ro.sqlite3"
    async with Database(path) as db:
        await _user(db)
    async with Database(path) as db:
        # Another process may hold the file read-only; simulate with query_only on the writer.
        await db._writer.execute("PRAGMA query_only = ON")
        with pytest.raises(StorageError, match="readonly database"):
            async with db.transaction() as conn:
                await users.upsert_telegram(conn, 2, None, "x", "ko", NOW)
