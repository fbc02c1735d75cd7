"""Order placement throughput: 20 concurrent customers place 1,000 orders.

Real parts only: the panel simulator in its own process (real HTTP on loopback), a real
SQLite file in a temp dir, and the shop's use-case layer (``quote`` + ``place``).
Placement latency is measured for ``place`` alone (debit + order commit, the panel
``add`` call, the status CAS); ``quote`` is timed and reported separately.

    .venv/bin/python -m bench.orders [--orders 1000] [--customers 20] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from fulfillment.client import PanelClient
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

ADMIN = 9000
KEY = "bench-key-0001"
SERVICE = "101"  # KR followers, Default type: 20,580 원 per 1000
QUANTITY = 100  # 2,058 원 per order


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start_simulator(port: int) -> subprocess.Popen[bytes]:
    # Same as `python -m bot simulator --port P --key K --speed 3600`, called directly
    # because the CLI passes key= where run_panel_blocking takes api_key= (reported).
    code = (
        "from sandbox.panel import run_panel_blocking; "
        f"run_panel_blocking(port={port}, api_key={KEY!r}, speed=3600)"
    )
    cmd = [sys.executable, "-c", code]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        for _ in range(200):  # up to ~10 s for the interpreter and uvicorn to come up
            try:
                await http.get(f"{base}/_sim/state")
                # Enough panel funds for every order (the simulator starts with 100 USD).
                r = await http.post(f"{base}/_sim/balance", json={"balance": "1000000"})
                r.raise_for_status()
                return proc
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "") from None
                await asyncio.sleep(0.05)
    proc.kill()
    raise RuntimeError("simulator did not start")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _customer(shop: Shop, n: int, count: int, service_id: int,
                    quote_ms: list[float], place_ms: list[float]) -> None:  # fmt: skip
    for i in range(count):
        inp = OrderInput(link=f"https://instagram.com/bench_{n}_{i}", quantity=QUANTITY)
        uid = (await shop.users.ensure(100 + n, f"u{n}", "고객", "ko")).id
        t0 = time.perf_counter()
        q = await shop.orders.quote(uid, service_id, inp)
        t1 = time.perf_counter()
        result = await shop.orders.place(uid, q.token)
        t2 = time.perf_counter()
        if result.outcome != PlaceOutcome.PLACED:
            raise RuntimeError(f"order {n}/{i}: {result.outcome} {result.error}")
        quote_ms.append((t1 - t0) * 1000)
        place_ms.append((t2 - t1) * 1000)


async def run(orders: int, customers: int, profile: bool) -> int:
    port = _free_port()
    proc = await _start_simulator(port)
    client = PanelClient(f"http://127.0.0.1:{port}/api/v2", KEY, timeout=10.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with Database(Path(tmp) / "bench.sqlite3") as db:
                settings = ShopSettings(admin_ids=(ADMIN,), exchange_rate=Decimal(1400),
                                        markup_percent=Decimal(50))  # fmt: skip
                shop = Shop(ShopContext(db=db, panel=client, settings=settings))
                await shop.catalog.sync()
                svc = next(s for s in await shop.catalog.all() if s.panel_id == SERVICE)
                per_customer = orders // customers
                need = per_customer * 2058 + 10_000
                for n in range(customers):
                    user = await shop.users.ensure(100 + n, f"u{n}", "고객", "ko")
                    topup = await shop.topups.request_bank(user.id, need, f"입금자{n}")
                    await shop.topups.approve(topup.id, ADMIN)
                quote_ms: list[float] = []
                place_ms: list[float] = []
                prof = cProfile.Profile() if profile else None
                if prof:
                    prof.enable()
                t0 = time.perf_counter()
                await asyncio.gather(
                    *(_customer(shop, n, per_customer, svc.id, quote_ms, place_ms)
                      for n in range(customers))
                )  # fmt: skip
                elapsed = time.perf_counter() - t0
                if prof:
                    prof.disable()
                check = await shop.check_ledger()
                done = len(place_ms)
    finally:
        await client.aclose()
        proc.terminate()
        proc.wait(timeout=10)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = all(not rows for rows in check.values())
    print(f"orders placed:    {done} by {customers} concurrent customers in {elapsed:.2f} s")
    print(f"throughput:       {done / elapsed:.0f} orders/s (quote + place, end to end)")
    print(f"place latency:    p50 {statistics.median(place_ms):.1f} ms, "
          f"p99 {_pct(place_ms, 99):.1f} ms (quote excluded)")  # fmt: skip
    print(f"quote latency:    p50 {statistics.median(quote_ms):.1f} ms, "
          f"p99 {_pct(quote_ms, 99):.1f} ms")  # fmt: skip
    print(f"peak RSS:         {rss_mb:.0f} MB (this process; the simulator runs separately)")
    print("ledger check:     " + ("all invariants hold" if ok else f"FAILED {check}"))
    if prof:
        pstats.Stats(prof).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(30)
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--customers", type=int, default=20)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    args = ap.parse_args()
    return asyncio.run(run(args.orders, args.customers, args.profile))


if __name__ == "__main__":
    sys.exit(main())
