"""Card top-ups end to end through the Toss stand-in (its own process), real SQLite.

    .venv/bin/python -m bench.cards [--payments 500] [--concurrency 20]

Each payment: a checkout, the stand-in's window (open + pay, as a browser would), then
``settle`` (claim, confirm over HTTP, credit in one transaction). Prints settle throughput
and latency, and that every payment was credited exactly once (ledger invariants).
No target in the issue; this shows where the time goes (the confirm round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from payments.toss import TossClient
from sandbox.ports import free_port
from sandbox.toss import TEST_CLIENT_KEY, TEST_SECRET_KEY
from shop.cards import Settle
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database
from tests.tossenv import Return

STANDIN = """
import asyncio, sys
from sandbox.toss import TossStandIn, serve_toss
async def main():
    server = await serve_toss(TossStandIn(), port=int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def window(browser: httpx.AsyncClient, order_id: str, amount: int) -> dict[str, str]:
    """What the SDK and the buyer do: open the stand-in's window, press pay."""
    params = {"clientKey": TEST_CLIENT_KEY, "orderId": order_id, "orderName": "bench",
              "amount": str(amount), "successUrl": "https://shop.example/pay/toss/success",
              "failUrl": "https://shop.example/pay/toss/fail"}  # fmt: skip
    page = await browser.get("/window", params=params)
    key = re.search(r'action="/window/([^/"]+)/pay"', page.text).group(1)  # type: ignore[union-attr]
    back = await browser.post(f"/window/{key}/pay")
    return Return(back.headers["location"]).query


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def run(payments: int, concurrency: int, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp(prefix="bench-cards-"))
    db = await Database(folder / "shop.sqlite3").open()
    gateway = TossClient(TEST_SECRET_KEY, api_url=url)
    settings = ShopSettings(public_url="https://shop.example", card_max=10_000_000)
    shop = Shop(ShopContext(db=db, panel=None, settings=settings, gateway=gateway))  # type: ignore[arg-type]
    sem = asyncio.Semaphore(concurrency)
    browser = httpx.AsyncClient(base_url=url)  # the buyers' side, one pool for all
    settle_ms: list[float] = []
    try:
        users = [await shop.users.ensure(70_000 + i, None, f"b{i}", "ko") for i in range(50)]

        async def one(i: int) -> None:
            async with sem:
                user = users[i % len(users)]
                c = await shop.cards.create_checkout(user.id, 5000 + i)
                q = await window(browser, c.order_id, c.amount)
                t0 = time.perf_counter()
                r = await shop.cards.settle(q["orderId"], q["paymentKey"], q["amount"], c.token)
                settle_ms.append((time.perf_counter() - t0) * 1000)
                assert r.outcome is Settle.CREDITED, r

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(payments)))
        wall = time.perf_counter() - t0
        credits = await db.fetch_one("SELECT COUNT(*) FROM ledger WHERE idem_key LIKE 'card:%'")
        broken = {k: v for k, v in (await shop.check_ledger()).items() if v}
        print(f"{payments} card payments, {concurrency} at a time: {wall:.1f} s "
              f"({payments / wall:.0f} payments/s incl. the window), "
              f"settle p50 {statistics.median(settle_ms):.0f} ms, "
              f"p99 {pct(settle_ms, 0.99):.0f} ms; credits {credits[0]}; "
              f"ledger: {'all invariants hold' if not broken else broken}")  # fmt: skip
    finally:
        await browser.aclose()
        await gateway.aclose()
        await db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--payments", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=20)
    args = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", STANDIN, str(port)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith(b"ready")
        asyncio.run(run(args.payments, args.concurrency, port))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
