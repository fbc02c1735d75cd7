"""Row helpers. ``execute_fetchall`` runs and fetches in one trip to aiosqlite's thread
(``async with execute() as cur: await cur.fetchone()`` takes three)."""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite


def one(rows: Iterable[aiosqlite.Row]) -> aiosqlite.Row | None:
    for row in rows:
        return row
    return None
