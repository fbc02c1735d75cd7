"""The large catalog: sync time, peak RSS, and how fast each menu level renders.

The panel simulator runs in its own process with a generated catalog shaped like a real
panel's (sandbox/catalog.py; 5,000 services by default). This process syncs it into a
fresh SQLite file through the real panel client, then times ``Dialog.handle`` — the whole
turn a front would run, catalog lookups, pricing, texts and fitting included, Telegram's
capabilities — for every menu level and for searches, over random targets.

    .venv/bin/python -m bench.catalog [--services 5000] [--turns 400]

Targets: sync of 5,000 services ≤ 2 s, every menu render p99 ≤ 20 ms, search p99 ≤ 30 ms,
peak RSS ≤ 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from bench.poll import free_port, wait_up
from chat.dialog import Dialog
from chat.screens import TELEGRAM
from chat.turns import Command, Event, Tap, Text, Turn
from fulfillment.client import PanelClient
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

KEY = "bench-catalog-key"
SIMULATOR = """
import asyncio, sys
from sandbox.catalog import large_catalog
from sandbox.panel import PanelSimulator, serve_panel

async def main():
    services = large_catalog(size=int(sys.argv[3])).services
    sim = PanelSimulator(api_key=sys.argv[1], services=services, auto_advance=False)
    await serve_panel(sim, port=int(sys.argv[2]))
    await asyncio.Event().wait()

asyncio.run(main())
"""
SEARCHES = ("팔로워", "youtube views", "인스타 좋아요", "tiktok", "한국인 팔로워 리필",
            "구독자", "story views", "zzz-nothing")  # fmt: skip


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def timed_turns(
    dialog: Dialog, shop: Shop, make: Callable[[random.Random], tuple[Event, dict]], n: int
) -> list[float]:
    user = await shop.users.ensure(1, None, "벤치", "ko")
    rng = random.Random(7)
    out = []
    for _ in range(n):
        event, state = make(rng)
        t0 = time.perf_counter()
        reply = await dialog.handle(Turn(user, "ko", TELEGRAM, state, event))
        out.append(time.perf_counter() - t0)
        assert reply.screens, event
    return out


async def run(base: str, services: int, turns: int) -> None:
    await wait_up(base)
    with tempfile.TemporaryDirectory() as tmp:
        async with Database(Path(tmp) / "bench.sqlite3") as db:
            panel = PanelClient(base + "/api/v2", KEY, timeout=60)
            settings = ShopSettings(exchange_rate=Decimal(1400), markup_percent=Decimal(50))
            shop = Shop(ShopContext(db=db, panel=panel, settings=settings))
            t0 = time.perf_counter()
            report = await shop.catalog.sync()
            sync_s = time.perf_counter() - t0
            shop.catalog.forget()  # how long the browsing index takes on its own
            t0 = time.perf_counter()
            menu = await shop.catalog.menu()
            index_s = time.perf_counter() - t0
            sellable = await shop.catalog.sellable()
            plats = menu.platforms
            cats = [c for p in plats for c in p.categories]
            print(f"catalog: {report.total} services listed, {len(sellable)} sellable, "
                  f"{len(cats)} categories, {len(plats)} platforms")  # fmt: skip
            print(f"sync (fetch, parse, store, build the menus): {sync_s:.2f} s   (target ≤ 2 s)")
            print(f"  of which reloading the catalog and building the menus: "
                  f"{index_s * 1000:.0f} ms")  # fmt: skip

            dialog = Dialog(shop)
            words = sorted({w for s in sellable for w in s.name.split() if len(w) >= 2})
            size = TELEGRAM.page_size

            def pages(n: int) -> int:
                return max(1, -(-n // size))

            levels: dict[str, Callable[[random.Random], tuple[Event, dict]]] = {
                "platforms": lambda r: (Command("order"), {}),
                "categories": lambda r: (lambda p: (
                    Tap(f"c:P:{p.key}:{r.randrange(pages(len(p.categories)))}"), {}))(
                    r.choice(plats)),
                "services": lambda r: (lambda c: (
                    Tap(f"c:C:{c.key}:{r.randrange(pages(len(c.services)))}"), {}))(
                    r.choice(cats)),
                "card": lambda r: (Tap(f"c:s:{r.choice(sellable).id}"), {}),
                "description": lambda r: (Tap(f"c:d:{r.choice(sellable).id}:0"), {}),
                "search words": lambda r: (Text(r.choice(SEARCHES)), {}),
                # words never searched before (from random service names): no cache helps
                "search new": lambda r: (Text(" ".join(
                    r.choice(words) for _ in range(r.choice((1, 1, 2))))), {}),
                "search #number": lambda r: (Text(f"#{r.choice(sellable).id}"), {}),
            }  # fmt: skip
            print(f"Dialog.handle per turn, {turns} random turns each (Telegram capabilities):")
            for name, make in levels.items():
                xs = await timed_turns(dialog, shop, make, turns)
                target = 30 if name.startswith("search") else 20
                p50, p99 = quantile(xs, 0.5) * 1000, quantile(xs, 0.99) * 1000
                print(f"  {name:<15} p50 {p50:5.2f} ms   p99 {p99:5.2f} ms   "
                      f"(target p99 ≤ {target} ms)")  # fmt: skip
            await panel.aclose()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the shop process: {rss_mb:.0f} MB   (target ≤ 150 MB)")


def start_simulator(port: int, services: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SIMULATOR, KEY, str(port), str(services)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def main(services: int, turns: int) -> None:
    port = free_port()
    proc = start_simulator(port, services)
    try:
        await run(f"http://127.0.0.1:{port}", services, turns)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--turns", type=int, default=400)
    args = parser.parse_args()
    asyncio.run(main(args.services, args.turns))
