"""Read-only queries for the owner's web console: figures by day, searches, timelines.

Searches build their WHERE clause from the fixed fragments below; what the admin typed is
only ever a bound parameter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from storage.rows import one as first_row

MICRO = 1_000_000  # costs are summed as integer millionths of a 원, never as floats

# ---- dashboard --------------------------------------------------------------------------

STATUSES = ("created", "submitting", "pending", "processing", "in_progress", "completed",
            "partial", "canceled", "failed", "needs_review")  # fmt: skip
TOPUP_METHODS = ("bank", "stars", "card")

# One local day of orders. Panel cost per order in millionths of a 원: the panel's charge
# × the exchange rate the order was priced at (the shop's current rate for orders older
# than that column), each order rounded once and summed as integers. Without a charge
# from the panel yet, estimated from the panel rate the order was priced at, for the part
# not refunded (a package is one rate per order, everything else a rate per 1000).
# Each day is its own index range and needs no sorting; the days run as one statement,
# each day one row of four one-row parts (orders, refunds, new customers, top-ups).
_DAY = """
SELECT {n} AS day, o.*, r.*, c.*, t.* FROM
(SELECT COUNT(*) AS orders, COALESCE(SUM(o.price), 0) AS sales,
        COALESCE(SUM(o.refunded), 0) AS refunded,
        COALESCE(SUM(CASE WHEN o.charge IS NOT NULL
                 THEN CAST(ROUND(CAST(o.charge AS REAL) * 1000000
                                 * COALESCE(CAST(o.exchange_rate AS REAL), :rate))
                           AS INTEGER)
                 WHEN o.price > o.refunded
                 THEN CAST(ROUND(CAST(o.rate AS REAL) * 1000
                                 * (CASE WHEN o.service_type = 'package' THEN 1000
                                         ELSE o.quantity END)
                                 * COALESCE(CAST(o.exchange_rate AS REAL), :rate)
                                 * (o.price - o.refunded) / o.price)
                           AS INTEGER)
                 ELSE 0 END), 0) AS cost_micro,
        COALESCE(SUM(o.charge IS NULL AND o.price > o.refunded), 0) AS estimated,
        {statuses}
 FROM orders o
 WHERE o.created_at >= :lo{n} AND o.created_at < :hi{n}) AS o,
(SELECT COUNT(*) AS refund_count, COALESCE(SUM(amount), 0) AS refunds FROM ledger
 WHERE kind IN ('refund', 'reserve_release') AND created_at >= :lo{n} AND created_at < :hi{n})
 AS r,
(SELECT COUNT(*) AS new_customers FROM users WHERE created_at >= :lo{n} AND created_at < :hi{n})
 AS c,
(SELECT {topups} FROM ledger l JOIN topups t ON t.id = l.topup_id
 WHERE l.kind = 'topup' AND l.created_at >= :lo{n} AND l.created_at < :hi{n}) AS t"""
_STATUS = "COALESCE(SUM(o.status = '{s}'), 0) AS s_{s}"
_TOPUP = """COALESCE(SUM(t.method = '{m}'), 0) AS n_{m},
        COALESCE(SUM(CASE WHEN t.method = '{m}' THEN l.amount ELSE 0 END), 0) AS a_{m}"""


def _day_sql(n: int) -> str:
    statuses = ",\n        ".join(_STATUS.format(s=s) for s in STATUSES)
    topups = ",\n        ".join(_TOPUP.format(m=m) for m in TOPUP_METHODS)
    return _DAY.format(n=n, statuses=statuses, topups=topups)


async def day_figures(
    conn: aiosqlite.Connection, bounds: Sequence[tuple[str, str]], rate: str
) -> list[aiosqlite.Row]:
    """One row per [start, end) in ``bounds`` (the shop's local days as UTC times), in order:
    orders placed (count, sales, refunded, panel cost in millionths of a 원 with ``rate``
    for orders without their own, how many estimated, per status ``s_<status>``), refunds
    credited, new customers and credited top-ups per method (``n_<m>``, ``a_<m>``)."""
    sql = "\nUNION ALL\n".join(_day_sql(n) for n in range(len(bounds)))
    params: dict[str, str] = {"rate": rate}
    for n, (lo, hi) in enumerate(bounds):
        params[f"lo{n}"], params[f"hi{n}"] = lo, hi
    return sorted(await conn.execute_fetchall(sql, params), key=lambda r: r["day"])


async def attention(conn: aiosqlite.Connection, late_before: str) -> aiosqlite.Row:
    """What needs a human now, and the customer count."""
    sql = """SELECT
        (SELECT COUNT(*) FROM topups WHERE status = 'pending') AS pending_topups,
        (SELECT COUNT(*) FROM orders WHERE status = 'needs_review') AS review,
        (SELECT COUNT(*) FROM orders WHERE status IN ('pending', 'processing')
                                      AND submitted_at <= ?) AS late,
        (SELECT COUNT(*) FROM users) AS customers"""
    row = first_row(await conn.execute_fetchall(sql, (late_before,)))
    assert row is not None
    return row


async def status_counts(conn: aiosqlite.Connection, statuses: Sequence[str]) -> dict[str, int]:
    """Orders in each of ``statuses`` (an index range each: cheap for the unfinished ones)."""
    sql = """SELECT status, COUNT(*) FROM orders
             WHERE status IN (SELECT value FROM json_each(?)) GROUP BY status"""
    return {r[0]: r[1] for r in await conn.execute_fetchall(sql, (json.dumps(list(statuses)),))}


# ---- orders -----------------------------------------------------------------------------

ORDER_LIST = """SELECT o.*, s.name AS service_name, u.first_name AS customer_name,
                       u.username AS customer_username, u.telegram_id AS customer_telegram_id,
                       u.front AS customer_front
                FROM orders o JOIN services s ON s.id = o.service_id
                JOIN users u ON u.id = o.user_id"""

# The search fragments (the parameters they take are bound by ``search_orders``). A text
# fragment of 3+ characters is looked up in the trigram index (link, subscription username)
# and among customers' names; each side gives at most :cap newest orders, so a fragment that
# matches everything costs no more than one that matches little.
MATCH_NUMBER = """o.id IN (SELECT id FROM orders WHERE id = :n
                    UNION ALL SELECT id FROM orders WHERE panel_order_id = :text
                    UNION ALL SELECT o2.id FROM users u2 JOIN orders o2 ON o2.user_id = u2.id
                              WHERE u2.telegram_id = :n)"""
MATCH_USERNAME = """o.user_id IN (SELECT id FROM users WHERE username = :text COLLATE NOCASE)"""
CUSTOMERS_LIKE = """SELECT id FROM users WHERE first_name LIKE :like ESCAPE '\\'
                    OR username LIKE :like ESCAPE '\\' ORDER BY id DESC LIMIT 200"""
MATCH_TEXT = f"""o.id IN (
    SELECT id FROM (SELECT rowid AS id FROM orders_search WHERE orders_search MATCH :fts
                    ORDER BY rowid DESC LIMIT :cap)
    UNION ALL
    SELECT id FROM (SELECT o3.id FROM orders o3 WHERE o3.user_id IN ({CUSTOMERS_LIKE})
                    ORDER BY o3.id DESC LIMIT :cap))"""  # noqa: S608 - fixed fragments only
# Under 3 characters the trigram index cannot help: a plain scan (such short fragments
# match many orders, and the scan stops at the first page of them).
MATCH_SHORT = f"""(o.link LIKE :like ESCAPE '\\' OR o.username LIKE :like ESCAPE '\\'
                   OR o.user_id IN ({CUSTOMERS_LIKE}))"""
MATCHES = {"number": MATCH_NUMBER, "username": MATCH_USERNAME, "text": MATCH_TEXT,
           "short": MATCH_SHORT}  # fmt: skip


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: matched literally, whatever characters it holds."""
    return '"' + text.replace('"', '""') + '"'


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards in ``text`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_orders(
    conn: aiosqlite.Connection,
    *,
    statuses: Sequence[str] | None,
    match: str | None,
    text: str = "",
    number: int | None = None,
    user_id: int | None = None,
    submitted_before: str | None = None,
    limit: int,
    offset: int,
) -> list[aiosqlite.Row]:
    """Newest first. ``match`` is 'number', 'username' or 'text' (or None: no search)."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if submitted_before is not None:
        where.append("o.submitted_at <= :submitted_before")
        params["submitted_before"] = submitted_before
    if statuses is not None and len(statuses) == 1:  # walks the status index, newest first
        where.append("o.status = :status")
        params["status"] = statuses[0]
    elif statuses is not None:  # the unfinished ones: recent, found early scanning back
        where.append("o.status IN (SELECT value FROM json_each(:statuses))")
        params["statuses"] = json.dumps(list(statuses))
    if user_id is not None:
        where.append("o.user_id = :user_id")
        params["user_id"] = user_id
    if match == "text" and len(text) < 3:
        match = "short"
    if match is not None:
        where.append(MATCHES[match])
        params.update({"n": number, "text": text, "like": like_pattern(text),
                       "fts": fts_phrase(text), "cap": offset + limit})  # fmt: skip
    sql = ORDER_LIST + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY o.id DESC LIMIT :limit OFFSET :offset"
    return list(await conn.execute_fetchall(sql, params))


async def order_with_names(conn: aiosqlite.Connection, order_id: int) -> aiosqlite.Row | None:
    sql = ORDER_LIST + " WHERE o.id = ?"
    return first_row(await conn.execute_fetchall(sql, (order_id,)))


async def order_events(conn: aiosqlite.Connection, order_id: int) -> list[aiosqlite.Row]:
    sql = "SELECT * FROM order_events WHERE order_id = ? ORDER BY id"
    return list(await conn.execute_fetchall(sql, (order_id,)))


async def outbox_with_prefixes(
    conn: aiosqlite.Connection, prefixes: Iterable[str]
) -> list[aiosqlite.Row]:
    """Outbox rows whose dedupe key starts with one of ``prefixes`` (each ending in ':'),
    as key ranges on the unique index rather than a LIKE scan of the whole outbox."""
    rows: list[aiosqlite.Row] = []
    sql = "SELECT * FROM outbox WHERE dedupe_key >= ? AND dedupe_key < ? ORDER BY id"
    for prefix in prefixes:
        rows += await conn.execute_fetchall(sql, (prefix, prefix[:-1] + ";"))
    return sorted(rows, key=lambda r: r["id"])


async def audit_for(conn: aiosqlite.Connection, target: str) -> list[aiosqlite.Row]:
    sql = "SELECT * FROM audit WHERE target = ? ORDER BY id"
    return list(await conn.execute_fetchall(sql, (target,)))


# ---- top-ups ----------------------------------------------------------------------------

TOPUP_LIST = """SELECT t.*, u.first_name AS customer_name, u.username AS customer_username,
                       u.telegram_id AS customer_telegram_id, u.front AS customer_front
                FROM topups t JOIN users u ON u.id = t.user_id"""


async def topups(
    conn: aiosqlite.Connection,
    *,
    method: str | None,
    pending: bool,
    limit: int,
    offset: int,
) -> list[aiosqlite.Row]:
    where = ["t.status = 'pending'" if pending else "t.status <> 'pending'"]
    params: list[Any] = []
    if method is not None:
        where.append("t.method = ?")
        params.append(method)
    sql = TOPUP_LIST + " WHERE " + " AND ".join(where) + " ORDER BY t.id DESC LIMIT ? OFFSET ?"
    return list(await conn.execute_fetchall(sql, (*params, limit, offset)))


async def topup_methods(conn: aiosqlite.Connection) -> list[str]:
    sql = "SELECT DISTINCT method FROM topups ORDER BY method"
    return [r[0] for r in await conn.execute_fetchall(sql)]


# ---- customers --------------------------------------------------------------------------

CUSTOMER_LIST = """SELECT u.*, (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id)
                          AS order_count
                   FROM users u"""
CUSTOMER_MATCHES = {
    "number": "(u.id = :n OR u.telegram_id = :n OR u.external_id = :text)",
    "username": "u.username = :text COLLATE NOCASE",
    "text": """(u.first_name LIKE :like ESCAPE '\\' OR u.username LIKE :like ESCAPE '\\'
               OR u.external_id = :text)""",
}


async def customers(
    conn: aiosqlite.Connection,
    *,
    match: str | None,
    text: str = "",
    number: int | None = None,
    limit: int,
    offset: int,
) -> list[aiosqlite.Row]:
    sql = CUSTOMER_LIST
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if match is not None:
        sql += " WHERE " + CUSTOMER_MATCHES[match]
        params.update({"n": number, "text": text, "like": like_pattern(text)})
    sql += " ORDER BY u.id DESC LIMIT :limit OFFSET :offset"
    return list(await conn.execute_fetchall(sql, params))


async def ledger_page(
    conn: aiosqlite.Connection, user_id: int, limit: int, offset: int
) -> list[aiosqlite.Row]:
    sql = "SELECT * FROM ledger WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?"
    return list(await conn.execute_fetchall(sql, (user_id, limit, offset)))


# ---- audit and broadcasts ---------------------------------------------------------------

AUDIT_LIST = """SELECT a.*, u.first_name AS actor_name, u.username AS actor_username
                FROM audit a LEFT JOIN users u ON u.telegram_id = a.actor_id"""


async def audit_page(
    conn: aiosqlite.Connection,
    *,
    source: str | None,
    action: str | None,
    limit: int,
    offset: int,
) -> list[aiosqlite.Row]:
    where, params = [], []
    if source is not None:
        where.append("a.source = ?")
        params.append(source)
    if action is not None:
        where.append("a.action = ?")
        params.append(action)
    sql = AUDIT_LIST + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY a.id DESC LIMIT ? OFFSET ?"
    return list(await conn.execute_fetchall(sql, (*params, limit, offset)))


async def audit_actions(conn: aiosqlite.Connection) -> list[str]:
    sql = "SELECT DISTINCT action FROM audit ORDER BY action"
    return [r[0] for r in await conn.execute_fetchall(sql)]


async def outbox_counts(conn: aiosqlite.Connection, prefix: str) -> dict[str, int]:
    """Rows per status whose dedupe key starts with ``prefix`` (ending in ':')."""
    sql = """SELECT status, COUNT(*) FROM outbox WHERE dedupe_key >= ? AND dedupe_key < ?
             GROUP BY status"""
    return {r[0]: r[1] for r in await conn.execute_fetchall(sql, (prefix, prefix[:-1] + ";"))}
