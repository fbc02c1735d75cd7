"""The owner's console with a big shop: 100,000 orders and 10,000 customers.

Builds a real SQLite file (schema and triggers by the shop's own migrations; rows written
in bulk: 90 days of orders in every status, their debits and refunds, 30,000 credited
top-ups, the order timeline the triggers write), then serves the console with uvicorn on
loopback and times real HTTP requests of a signed-in admin, one at a time:

- the dashboard (today / 7 d / 30 d figures, 30 daily points, what needs a human);
- order searches: by order id, by panel id, by customer (@username), a link fragment
  (a LIKE over every order), and a status tab with its first page.

    .venv/bin/python -m bench.console [--orders 100000] [--customers 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from starlette.applications import Starlette

from fulfillment.client import PanelClient
from sandbox.panel import PanelSimulator, serve_panel
from sandbox.server import start_uvicorn, stop_uvicorn
from shop import figures
from shop.clock import iso
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database
from web.console import PREFIX, routes

ADMIN = 9000
KEY = "bench-key-0001"
DAYS = 90
# (status, share) of the orders; the recent ones are still moving.
FINISHED = [("completed", 70), ("partial", 8), ("canceled", 6), ("failed", 4)]
ACTIVE = [("pending", 4), ("processing", 3), ("in_progress", 4), ("needs_review", 1)]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _fill(path: Path, orders: int, customers: int, now: datetime) -> None:
    """Bulk rows straight into SQLite (the shop's use-cases would take an hour for this)."""
    rng = random.Random(14)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    stamp = lambda dt: iso(dt)  # noqa: E731
    start = now - timedelta(days=DAYS)
    services = conn.execute("SELECT id, rate, type FROM services").fetchall()
    users = []
    for n in range(customers):
        joined = start + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        users.append((1_000_000 + n, f"user{n}", f"고객{n}", "ko", stamp(joined), stamp(now)))
    conn.executemany(
        "INSERT INTO users (telegram_id, username, first_name, language, created_at, "
        "last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
        users,
    )
    user_ids = [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
    # Top-ups: 3 per customer on average, at least one each, credited (the ledger trigger
    # keeps the balances; they are large enough that no debit below overdraws).
    topups, credits = [], []
    for n in range(customers * 3):
        uid = user_ids[n] if n < customers else rng.choice(user_ids)
        at = stamp(start + timedelta(seconds=rng.uniform(0, DAYS * 86400)))
        method = "bank" if rng.random() < 0.8 else "stars"
        topups.append(
            (n + 1, uid, method, 2_000_000, "approved" if method == "bank" else "paid", at)
        )
        credits.append((uid, 2_000_000, "topup", f"topup:{n + 1}:credit", n + 1, at))
    conn.executemany(
        "INSERT INTO topups (id, user_id, method, amount, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        topups,
    )
    conn.executemany(
        "INSERT INTO ledger (user_id, amount, kind, idem_key, topup_id, balance_after, "
        "created_at) SELECT ?, ?, ?, ?, ?, 0, ?",
        credits,
    )
    rows, debits, refunds = [], [], []
    weights = FINISHED + ACTIVE
    for n in range(orders):
        oid = n + 1
        created = start + timedelta(seconds=DAYS * 86400 * n / orders)
        recent = (now - created) < timedelta(days=3)
        status = rng.choices(
            [s for s, _ in weights],
            [w * (8 if recent and (s, w) in ACTIVE else 1) for s, w in weights],
        )[0]
        sid, rate, service_type = rng.choice(services)
        quantity = rng.choice((100, 500, 1000, 5000))
        price = max(1, quantity * 20)
        refunded = {"canceled": price, "failed": price, "partial": price // 3}.get(status, 0)
        charge = (
            None
            if status in ("failed", "pending", "needs_review")
            else (f"{float(rate) * quantity / 1000 * (1 - refunded / price):.4f}")
        )
        uid = user_ids[rng.randrange(len(user_ids))]
        link = f"https://instagram.com/p/{rng.getrandbits(48):012x}"
        at = stamp(created)
        panel_id = str(5_000_000 + oid)
        rows.append(
            (
                oid,
                uid,
                sid,
                f"tok{oid}",
                "order",
                link,
                link,
                quantity,
                price,
                price * 50,
                rate,
                "1400",
                status,
                panel_id,
                charge,
                refunded,
                at,
                at,
                at,
                service_type,
            )
        )
        debits.append((uid, -price, "order", f"order:{oid}:debit", oid, at))
        if refunded:
            refunds.append((uid, refunded, "refund", f"order:{oid}:refund", oid, at))
    conn.executemany(
        "INSERT INTO orders (id, user_id, service_id, confirm_token, kind, link, job_key, "
        "quantity, price, price_per_1000, rate, exchange_rate, status, panel_order_id, charge, "
        "refunded, created_at, updated_at, submitted_at, service_type) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    for batch in (debits, refunds):
        conn.executemany(
            "INSERT INTO ledger (user_id, amount, kind, idem_key, order_id, balance_after, "
            "created_at) SELECT ?, ?, ?, ?, ?, 0, ?",
            batch,
        )
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


async def _time(client: httpx.AsyncClient, paths: list[str], n: int) -> list[float]:
    timings = []
    for i in range(n):
        t0 = time.perf_counter()
        r = await client.get(paths[i % len(paths)])
        timings.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text[:300]
    return timings


def _line(name: str, ms: list[float]) -> str:
    return (
        f"{name:<34} n={len(ms):<4} p50 {statistics.median(ms):6.1f} ms   "
        f"p90 {_pct(ms, 90):6.1f} ms   p99 {_pct(ms, 99):6.1f} ms   max {max(ms):6.1f} ms"
    )


async def main(orders: int, customers: int, requests: int, keep: str | None) -> None:
    sim = PanelSimulator(api_key=KEY, auto_advance=False, balance="1234.56")
    panel_srv = await serve_panel(sim)
    panel = PanelClient(panel_srv.url, KEY, timeout=5)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(keep or scratch) / "shop.sqlite3"
        if not path.exists():  # --keep DIR reuses a database built before
            path.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            async with Database(path) as db:  # schema, triggers, indexes: the migrations
                ctx = ShopContext(db=db, panel=panel, settings=ShopSettings(admin_ids=(ADMIN,)))
                await Shop(ctx).catalog.sync()
            _fill(path, orders, customers, datetime.now(UTC))
            print(
                f"built {orders:,} orders / {customers:,} customers in "
                f"{time.perf_counter() - t0:.1f} s ({path.stat().st_size / 1e6:.0f} MB)"
            )
        db = await Database(path).open()
        app = Starlette(routes=[])
        server, port, task = await start_uvicorn(app)
        base = f"http://127.0.0.1:{port}"
        settings = ShopSettings(admin_ids=(ADMIN,), console_url=base + PREFIX)
        shop = Shop(ShopContext(db=db, panel=panel, settings=settings))
        app.router.routes.extend(routes(shop, public_url=base))
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                link = await shop.access.login_link(ADMIN)
                assert (await client.get(link)).status_code == 200
                counts = await db.fetch_one(
                    "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM users), "
                    "(SELECT COUNT(*) FROM order_events), (SELECT COUNT(*) FROM ledger)"
                )
                print(
                    f"database: {counts[0]:,} orders, {counts[1]:,} customers, "
                    f"{counts[2]:,} timeline events, {counts[3]:,} ledger rows"
                )
                samples = await db.fetch_all(
                    "SELECT o.id, o.panel_order_id, o.link, u.username FROM orders o "
                    "JOIN users u ON u.id = o.user_id ORDER BY random() LIMIT 50"
                )
                await _time(client, [f"{PREFIX}/", f"{PREFIX}/orders?q=x"], 10)  # warm up
                cases = {
                    "dashboard": [f"{PREFIX}/"],
                    "search: order id": [f"{PREFIX}/orders?q={r['id']}" for r in samples],
                    "search: panel id": [
                        f"{PREFIX}/orders?q={r['panel_order_id']}" for r in samples
                    ],
                    "search: @customer": [f"{PREFIX}/orders?q=@{r['username']}" for r in samples],
                    "search: link fragment": [
                        f"{PREFIX}/orders?q={r['link'][-10:]}" for r in samples
                    ],
                    "tab: 진행중, first page": [f"{PREFIX}/orders?tab=in_progress"],
                    "order page (timeline)": [f"{PREFIX}/orders/{r['id']}" for r in samples],
                }
                results = {
                    name: await _time(client, paths, requests) for name, paths in cases.items()
                }
                # The same dashboard with the 30 past days added up again on every view (as
                # on the first view, or a minute after the last one).
                shop.console._past = figures.PastDays(ttl=0)
                cold = await _time(client, [f"{PREFIX}/"], max(20, requests // 4))
                results["dashboard, past days not cached"] = cold
            print()
            for name, ms in results.items():
                print(_line(name, ms))
            worst_search = max(_pct(ms, 99) for n, ms in results.items() if n.startswith("search"))
            print(
                f"\ntarget p99 ≤ 200 ms: dashboard {_pct(results['dashboard'], 99):.0f} ms, "
                f"worst search {worst_search:.0f} ms"
            )
        finally:
            await stop_uvicorn(server, task)
            await db.close()
            await panel.aclose()
            await panel_srv.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", help="build the database in this folder once and reuse it")
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.customers, args.requests, args.keep))
