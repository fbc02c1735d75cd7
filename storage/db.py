"""The SQLite database: connections, pragmas, migrations and write transactions.

One writer connection behind an asyncio lock (every write transaction is ``BEGIN
IMMEDIATE``) and one reader connection, so reads see only committed state and never
wait for a panel call: panel calls are never made inside a transaction.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from storage.rows import one as first_row

log = logging.getLogger(__name__)

# For type hints above storage: shop/ names the connection type without importing the driver.
Connection = aiosqlite.Connection

BUSY_TIMEOUT_MS = 10_000


class StorageError(Exception):
    """The database cannot be used (read-only file, full disk, corrupt file)."""


def _migrations() -> list[tuple[int, str]]:
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


async def _open(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    return conn


class Database:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> Database:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await _open(self.path)
            mode = await (await self._writer.execute("PRAGMA journal_mode = WAL")).fetchone()
            if mode[0].lower() != "wal":
                log.warning("SQLite journal mode is %s, not WAL", mode[0])
            # NORMAL is durable across application crashes in WAL mode; only an OS crash
            # or power loss can drop the last commits.
            await self._writer.execute("PRAGMA synchronous = NORMAL")
            await self._migrate()
            self._reader = await _open(self.path)
            await self._reader.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            await self.close()
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        return self

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _migrate(self) -> None:
        assert self._writer is not None
        row = await (await self._writer.execute("PRAGMA user_version")).fetchone()
        current = row[0]
        for version, sql in _migrations():
            if version <= current:
                continue
            log.info("applying database migration %04d", version)
            # executescript commits first; wrap the script and the version bump together.
            await self._writer.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version:d};\nCOMMIT;"
            )

    @property
    def schema_version(self) -> int:
        return max((v for v, _ in _migrations()), default=0)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A serialized write transaction: commit on success, roll back on any error."""
        if self._writer is None:
            raise StorageError("database is not open")
        async with self._write_lock:
            conn = self._writer
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StorageError(f"cannot start a write transaction: {exc}") from exc
            try:
                yield conn
            except sqlite3.OperationalError as exc:
                # locked past the busy timeout, read-only file, full disk: nothing was
                # written, and the caller gets one clear error.
                await conn.rollback()
                raise StorageError(f"database write failed: {exc}") from exc
            except BaseException:
                await conn.rollback()
                raise
            try:
                await conn.commit()
            except sqlite3.Error as exc:
                await conn.rollback()
                raise StorageError(f"commit failed: {exc}") from exc

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StorageError("database is not open")
        return self._reader

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self.reader.execute_fetchall(sql, tuple(params)))

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        return first_row(await self.reader.execute_fetchall(sql, tuple(params)))

    async def ping(self) -> bool:
        """Whether the database answers a read (health checks)."""
        try:
            return (await self.fetch_one("SELECT 1")) is not None
        except (sqlite3.Error, StorageError, ValueError):
            return False

    async def backup(self, dest: str | Path) -> None:
        """Online backup (SQLite's backup API): safe while the shop is running."""
        if self._writer is None:
            raise StorageError("database is not open")
        target = await aiosqlite.connect(str(dest))
        try:
            await self._writer.backup(target)
        finally:
            await target.close()
