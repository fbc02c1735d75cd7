"""services table: the synced panel catalog plus the owner's local overrides."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import one as first_row


@dataclass(frozen=True, slots=True)
class ServiceRow:
    panel_id: str
    name: str
    category: str
    type: str
    raw_type: str
    rate: str
    min_qty: int
    max_qty: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str | None


async def get(conn: aiosqlite.Connection, service_id: int) -> aiosqlite.Row | None:
    return first_row(
        await conn.execute_fetchall("SELECT * FROM services WHERE id = ?", (service_id,))
    )


async def all_services(conn: aiosqlite.Connection) -> list[aiosqlite.Row]:
    return list(await conn.execute_fetchall("SELECT * FROM services ORDER BY category, id"))


_SYNCED = (
    "name", "category", "type", "raw_type", "rate", "min_qty", "max_qty", "refill", "cancel",
    "dripfeed", "description",
)  # fmt: skip


def _values(s: ServiceRow) -> tuple:
    return (
        s.name, s.category, s.type, s.raw_type, s.rate, s.min_qty, s.max_qty,
        int(s.refill), int(s.cancel), int(s.dripfeed), s.description,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SyncCounts:
    new: int
    updated: int
    removed: int


async def apply_sync(
    conn: aiosqlite.Connection, listed: list[ServiceRow], now: str, visible_if_new: bool
) -> SyncCounts:
    """Apply the panel's whole list in the caller's transaction: insert new services,
    update changed ones, mark the unlisted removed. A handful of statements whatever the
    catalog's size (one read, then ``executemany``), so 5,000 services sync in well under
    a second. An empty list removes nothing (see CatalogService.sync)."""
    columns = ", ".join(_SYNCED)
    stored = {
        r["panel_id"]: (tuple(r[c] for c in _SYNCED), r["removed_at"] is not None)
        for r in await conn.execute_fetchall(
            f"SELECT panel_id, {columns}, removed_at FROM services"  # noqa: S608 - fixed names
        )
    }
    fresh: list[tuple] = []
    changed: list[tuple] = []
    seen: set[str] = set()
    for s in listed:
        if s.panel_id in seen:  # a panel listing one id twice: the first entry counts
            continue
        seen.add(s.panel_id)
        values = _values(s)
        old = stored.get(s.panel_id)
        if old is None:
            fresh.append((*values, s.panel_id, int(visible_if_new), now))
        elif old != (values, False):
            changed.append((*values, now, s.panel_id))
    if fresh:
        await conn.executemany(
            f"""INSERT INTO services ({columns}, panel_id, visible, synced_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",  # noqa: S608
            fresh,
        )
    if changed:
        await conn.executemany(
            """UPDATE services SET name = ?, category = ?, type = ?, raw_type = ?, rate = ?,
                   min_qty = ?, max_qty = ?, refill = ?, cancel = ?, dripfeed = ?,
                   description = ?, removed_at = NULL, synced_at = ?
               WHERE panel_id = ?""",
            changed,
        )
    gone = [(now, pid) for pid, (_, removed) in stored.items() if pid not in seen and not removed]
    if gone and listed:
        await conn.executemany("UPDATE services SET removed_at = ? WHERE panel_id = ?", gone)
    else:
        gone = []
    # Unchanged rows are left alone: rewriting 5,000 rows (descriptions and all) only to
    # stamp them cost a third of the sync. ``synced_at`` is when a sync last wrote the row.
    return SyncCounts(len(fresh), len(changed), len(gone))


async def set_visible(conn: aiosqlite.Connection, service_id: int, visible: bool) -> bool:
    cur = await conn.execute(
        "UPDATE services SET visible = ? WHERE id = ?", (int(visible), service_id)
    )
    return cur.rowcount == 1


async def set_price_override(
    conn: aiosqlite.Connection, service_id: int, price_per_1000: int | None
) -> bool:
    cur = await conn.execute(
        "UPDATE services SET price_override = ? WHERE id = ?", (price_per_1000, service_id)
    )
    return cur.rowcount == 1
