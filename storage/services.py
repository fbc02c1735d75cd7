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


async def upsert(conn: aiosqlite.Connection, s: ServiceRow, now: str, visible_if_new: bool) -> str:
    """Insert or update one synced service; returns 'new', 'updated' or 'same'."""
    old = first_row(
        await conn.execute_fetchall("SELECT * FROM services WHERE panel_id = ?", (s.panel_id,))
    )
    values = (
        s.name, s.category, s.type, s.raw_type, s.rate, s.min_qty, s.max_qty,
        int(s.refill), int(s.cancel), int(s.dripfeed), s.description,
    )  # fmt: skip
    if old is None:
        await conn.execute(
            """INSERT INTO services (name, category, type, raw_type, rate, min_qty, max_qty,
                   refill, cancel, dripfeed, description, panel_id, visible, synced_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (*values, s.panel_id, int(visible_if_new), now),
        )
        return "new"
    old_values = (
        old["name"], old["category"], old["type"], old["raw_type"], old["rate"],
        old["min_qty"], old["max_qty"], old["refill"], old["cancel"], old["dripfeed"],
        old["description"],
    )  # fmt: skip
    changed = old_values != values or old["removed_at"] is not None
    await conn.execute(
        """UPDATE services SET name = ?, category = ?, type = ?, raw_type = ?, rate = ?,
               min_qty = ?, max_qty = ?, refill = ?, cancel = ?, dripfeed = ?,
               description = ?, removed_at = NULL, synced_at = ?
           WHERE panel_id = ?""",
        (*values, now, s.panel_id),
    )
    return "updated" if changed else "same"


async def mark_removed_except(conn: aiosqlite.Connection, panel_ids: set[str], now: str) -> int:
    """Hide every service the panel no longer lists; returns how many were removed."""
    gone = [
        r["id"]
        for r in await conn.execute_fetchall(
            "SELECT id, panel_id FROM services WHERE removed_at IS NULL"
        )
        if r["panel_id"] not in panel_ids
    ]
    for service_id in gone:
        await conn.execute("UPDATE services SET removed_at = ? WHERE id = ?", (now, service_id))
    return len(gone)


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
