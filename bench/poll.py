"""One full status-poll cycle over 10,000 active orders (simulator in its own process).

    .venv/bin/python -m bench.poll [--orders 10000]

Targets: ≤ 100 status calls, ≤ 2 s, ≤ 150 MB peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from fulfillment.client import PanelClient
from sandbox.ports import free_port
from shop import statuses as st
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage import orders, users
from storage.db import Database

KEY = "bench-poll-key"


async def wait_up(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                await client.get(base + "/_sim/state")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError("simulator did not start")


async def create_panel_orders(url: str, n: int) -> list[str]:
    """Real orders on the simulator through its add API, 16 at a time."""
    sem = asyncio.Semaphore(16)
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def add(i: int) -> str:
            async with sem:
                data = {"key": KEY, "action": "add", "service": "101",
                        "link": f"https://instagram.com/bench{i}", "quantity": "100"}  # fmt: skip
                for _ in range(5):  # a loaded loopback server may reset a connection
                    try:
                        resp = await client.post(url, data=data)
                        return str(resp.json()["order"])
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)
                raise RuntimeError(f"add {i} failed")

        return await asyncio.gather(*(add(i) for i in range(n)))


async def seed_db(shop: Shop, panel_ids: list[str]) -> None:
    ctx = shop.ctx
    await shop.catalog.sync()
    svc = next(s for s in await shop.catalog.all() if s.panel_id == "101")
    now = ctx.now_iso()
    async with ctx.db.transaction() as conn:
        user = await users.upsert_telegram(conn, 777, None, "bench", "ko", now)
        for i, pid in enumerate(panel_ids):
            oid = await orders.insert(conn, {
                "user_id": user["id"], "service_id": svc.id, "confirm_token": f"b{i}",
                "kind": "order", "link": f"https://instagram.com/bench{i}",
                "job_key": f"bench{i}", "quantity": 100, "price": 2058,
                "price_per_1000": 20580, "rate": str(svc.rate), "status": st.PENDING,
                "created_at": now, "updated_at": now,
            })  # fmt: skip
            await orders.update(
                conn,
                oid,
                st.PENDING,
                {"panel_order_id": pid, "submitted_at": now, "next_poll_at": now},
            )
        # the debits, so refunds from the poll keep the ledger consistent
        await conn.execute(
            "INSERT INTO ledger (user_id, amount, kind, idem_key, balance_after, created_at)"
            " VALUES (?, ?, 'adjustment', 'bench-seed', ?, ?)",
            (user["id"], 2058 * len(panel_ids), 2058 * len(panel_ids), now),
        )


async def main(n: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_simulator(port)
    try:
        await _run(base, n)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "simulator", "--port", str(port), "--key", KEY,
         "--balance", "10000000", "--speed", "3600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _run(base: str, n: int) -> None:
    if True:
        await wait_up(base)
        t0 = time.perf_counter()
        panel_ids = await create_panel_orders(base + "/api/v2", n)
        print(f"created {n} panel orders in {time.perf_counter() - t0:.1f}s")
        with tempfile.TemporaryDirectory() as tmp:
            async with Database(Path(tmp) / "bench.sqlite3") as db:
                panel = PanelClient(base + "/api/v2", KEY, timeout=30)
                settings = ShopSettings(exchange_rate=Decimal(1400), markup_percent=Decimal(50))
                shop = Shop(ShopContext(db=db, panel=panel, settings=settings))
                await seed_db(shop, panel_ids)
                async with httpx.AsyncClient() as client:
                    before = (await client.get(base + "/_sim/state")).json()["calls"]
                    t0 = time.perf_counter()
                    report = await shop.fulfilment.poll_once()
                    wall = time.perf_counter() - t0
                    after = (await client.get(base + "/_sim/state")).json()["calls"]
                    # steady state: the same orders again, most of them unchanged
                    t1 = time.perf_counter()
                    again = await shop.fulfilment.poll_once()
                    wall2 = time.perf_counter() - t1
                await panel.aclose()
        calls = after.get("status", 0) - before.get("status", 0)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"orders polled:      {report.polled}  (changed {report.changed}, "
              f"errors {report.errors})")  # fmt: skip
        print(f"HTTP status calls:  {calls}   (target ≤ 100)")
        print(f"wall seconds:       {wall:.2f}  (target ≤ 2)")
        print(f"orders/s:           {report.polled / wall:,.0f}")
        print(f"peak RSS (MB):      {rss_mb:.0f}   (target ≤ 150)")
        print(f"2nd cycle (steady): {again.polled} orders, {again.changed} changed, "
              f"{wall2:.2f} s, {again.polled / wall2:,.0f} orders/s")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().orders))
