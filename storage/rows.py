"""Row and connection types shop/ may name, and row helpers.

shop/ never imports the database driver: it names rows and connections through these
aliases. ``execute_fetchall`` runs and fetches in one trip to aiosqlite's thread
(``async with execute() as cur: await cur.fetchone()`` takes three).
"""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

Row = aiosqlite.Row  # read like a mapping: row["column"]
Connection = aiosqlite.Connection  # a connection inside a write transaction


def one(rows: Iterable[Row]) -> Row | None:
    for row in rows:
        return row
    return None
