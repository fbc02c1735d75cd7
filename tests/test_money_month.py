"""A simulated month of mixed orders against the panel simulator: afterwards ``python -m
bot check`` finds every ledger invariant holding, and every finished order was refunded
exactly what the panel gave back (issue 11, "Done when").

The simulator runs on the shop's own ManualClock (one stage every 6 hours, auto-likes get
posts by themselves); the shop polls every 4 hours and runs its timed checks; customers
order every service type, cancel, ask for refills; the panel forgets an order now and
then (review after 72 h, an admin refunds it) and shows absurd numbers for a while.
"""

from __future__ import annotations

import io
import random
from decimal import Decimal
from fractions import Fraction

from bot.maintenance import check_database
from fulfillment.client import PanelClient
from sandbox.panel import PanelSimulator, serve_panel
from shop import statuses as sts
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

KEY = "month-key"
ADMIN = 9000
DAYS = 30
CUSTOMERS = 6


async def test_a_month_of_mixed_orders_keeps_every_won(tmp_path):
    rng = random.Random(20261125)
    clock = ManualClock()
    sim = PanelSimulator(api_key=KEY, clock=lambda: clock.now().timestamp(), speed=6 * 3600,
                         auto_posts=True, balance="1000000", seed=7)  # fmt: skip
    server = await serve_panel(sim)
    client = PanelClient(server.url, KEY, timeout=10.0)
    path = tmp_path / "shop.sqlite3"
    settings = ShopSettings(admin_ids=(ADMIN,), poll_interval_seconds=4 * 3600)
    try:
        async with Database(path) as db:
            shop = Shop(ShopContext(db=db, panel=client, settings=settings, clock=clock))
            await shop.catalog.sync()
            services = {s.panel_id: s for s in await shop.catalog.all()}
            uids = [
                (await shop.users.ensure(100 + i, f"c{i}", "고객", "ko")).id
                for i in range(CUSTOMERS)
            ]
            placed: dict[int, str] = {}  # order id → panel id
            n = 0
            for day in range(DAYS + 5):
                for _hour in range(0, 24, 4):
                    if day < DAYS:
                        for _ in range(rng.randint(0, 3)):
                            n += 1
                            uid = rng.choice(uids)
                            if (await shop.users.get(uid)).balance < 300_000:
                                topup = await shop.topups.request_bank(uid, 1_000_000, f"입금{n}")
                                await shop.topups.approve(topup.id, ADMIN)
                            kind = rng.choice(["101", "103", "201", "202", "401", "501", "102",
                                               "601"])  # fmt: skip
                            inp = _input(rng, kind, n)
                            q = await shop.orders.quote(uid, services[kind].id, inp)
                            result = await shop.orders.place(uid, q.token)
                            if result.outcome == PlaceOutcome.PLACED:
                                placed[result.order.id] = result.order.panel_order_id
                        await _customers_act(shop, sim, rng, placed)
                    clock.advance(hours=4)
                    await shop.fulfilment.poll_once()
                    await shop.fulfilment.poll_refills()
                    await shop.fulfilment.alert_not_started()
                    for row in await _in_review(shop):  # the admin looks at the queue
                        await shop.admin.refund_order(ADMIN, row["id"], "패널이 주문을 잊음")
                    await shop.fulfilment.review_stuck()
                if day == 10:
                    sim.set_quirk("huge_numbers")
                if day == 12:
                    sim.clear_quirks("huge_numbers")
            out = io.StringIO()
            assert await check_database(str(path), out=out) == 0, out.getvalue()
            assert "all invariants hold" in out.getvalue()
            rows = await db.fetch_all("SELECT * FROM orders")
            assert len(rows) > 200
            finished = 0
            for row in rows:
                assert row["status"] not in sts.POLLED, dict(row)  # a month later, all ended
                if row["status"] in (sts.COMPLETED, sts.PARTIAL, sts.CANCELED) and (
                    row["error"] is None or "admin" not in row["error"]
                ):
                    assert row["refunded"] == _fair(sim, row, placed[row["id"]]), dict(row)
                    finished += 1
            statuses = [r["status"] for r in rows]
            assert finished > 150 and statuses.count("partial") > 10
            assert statuses.count("canceled") > 5 and statuses.count("failed") >= 1
    finally:
        await client.aclose()
        await server.stop()


def _input(rng: random.Random, kind: str, n: int) -> OrderInput:
    link = f"https://instagram.com/p/m{n}"
    if kind == "601":
        lo = rng.randint(50, 150)
        return OrderInput(username=f"acc{n}", sub_min=lo, sub_max=lo + rng.randint(0, 100),
                          sub_posts=rng.randint(1, 4), sub_delay=0)  # fmt: skip
    if kind == "102":
        return OrderInput(link=link, quantity=rng.randint(100, 500), runs=rng.randint(2, 4),
                          interval=5)  # fmt: skip
    if kind == "501":
        return OrderInput(link=link, comments=tuple(f"댓글{i}" for i in range(rng.randint(5, 9))))
    if kind == "401":
        return OrderInput(link=link)
    low = {"101": 10, "103": 50, "201": 10, "202": 100}[kind]
    return OrderInput(link=link, quantity=rng.randint(low, low * 50))


async def _customers_act(shop: Shop, sim: PanelSimulator, rng: random.Random, placed) -> None:
    """Now and then a customer cancels or asks for a refill; the panel forgets an order."""
    if not placed:
        return
    order_id = rng.choice(list(placed))
    row = await shop.ctx.db.fetch_one("SELECT user_id FROM orders WHERE id = ?", (order_id,))
    roll = rng.random()
    if roll < 0.15:
        await shop.orders.request_cancel(row["user_id"], order_id)
    elif roll < 0.25:
        await shop.orders.request_refill(row["user_id"], order_id)
    elif roll < 0.27 and sim.find_order(placed[order_id]).status not in sts.TERMINAL:
        sim.forget_order(placed[order_id], omit=rng.random() < 0.5)


async def _in_review(shop: Shop):
    return await shop.ctx.db.fetch_all("SELECT id FROM orders WHERE status = 'needs_review'")


def _fair(sim: PanelSimulator, row, panel_id: str) -> int:
    books = sim.accounting(panel_id)
    if row["kind"] == "subscription":
        kept = min(int(books.kept * 1000 / Decimal(row["rate"])), row["quantity"])
        return row["price"] * (row["quantity"] - kept) // row["quantity"]
    return int(row["price"] * Fraction(books.refunded) / Fraction(books.charged))
