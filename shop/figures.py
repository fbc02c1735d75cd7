"""The shop's figures by local day: orders, sales, refunds, revenue, panel cost, profit,
top-ups by method. One definition for the chat's /admin stats and the web dashboard.

- sales: what customers were charged for the orders placed that day;
- revenue: sales minus what those orders refunded (what customers finally paid);
- cost: the panel's charge for those orders in 원, at the exchange rate each order was
  priced at; while the panel has not reported a charge, estimated from the panel rate the
  order was priced at, for the part not refunded (``estimated`` counts those orders);
  each order's cost is rounded to a millionth of a 원 once, then summed as integers;
- profit: revenue minus cost;
- refunds: refunds credited that day (whenever the order was placed);
- top-ups: credits that day, by method.

Days are the shop's local days (``settings.timezone``), each read as its own range of the
time indexes. The days before today still change (an order placed last week finishes
today), but a minute late is soon enough for them: ``PastDays`` keeps them for a minute so
a busy dashboard does not add up 30 days of orders on every view. Today is always fresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shop.clock import iso
from shop.context import ShopContext
from storage import console as q

PERIODS = {"today": 1, "7d": 7, "30d": 30}


@dataclass
class Figures:
    orders: int = 0
    sales: int = 0
    revenue: int = 0
    cost_micro: int = 0  # millionths of a 원
    estimated: int = 0
    refunds: int = 0
    refund_count: int = 0
    new_customers: int = 0
    topups: dict[str, tuple[int, int]] = field(default_factory=dict)  # method → (n, 원)
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def cost_won(self) -> int:
        return (self.cost_micro + q.MICRO // 2) // q.MICRO  # half up

    @property
    def profit(self) -> int:
        return self.revenue - self.cost_won

    @property
    def topup_total(self) -> int:
        return sum(amount for _n, amount in self.topups.values())

    def add(self, other: Figures) -> None:
        self.orders += other.orders
        self.sales += other.sales
        self.revenue += other.revenue
        self.cost_micro += other.cost_micro
        self.estimated += other.estimated
        self.refunds += other.refunds
        self.refund_count += other.refund_count
        self.new_customers += other.new_customers
        for method, (n, amount) in other.topups.items():
            n0, a0 = self.topups.get(method, (0, 0))
            self.topups[method] = (n0 + n, a0 + amount)
        for status, n in other.by_status.items():
            self.by_status[status] = self.by_status.get(status, 0) + n


@dataclass(frozen=True)
class Report:
    days: list[tuple[date, Figures]]  # oldest first, today last
    periods: dict[str, Figures]  # "today", "7d", "30d"


class PastDays:
    """The figures of the days before today, kept for ``ttl`` seconds."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._key: tuple[date, int] | None = None
        self._at = 0.0
        self._days: dict[date, Figures] = {}

    def get(self, today: date, days: int) -> dict[date, Figures] | None:
        fresh = time.monotonic() - self._at < self.ttl
        return self._days if fresh and self._key == (today, days) else None

    def put(self, today: date, days: int, figures: dict[date, Figures]) -> None:
        self._key, self._at, self._days = (today, days), time.monotonic(), figures


def local_midnight(ctx: ShopContext) -> datetime:
    tz = ZoneInfo(ctx.settings.timezone)
    return ctx.now().astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


async def _days(ctx: ShopContext, starts: list[datetime]) -> dict[date, Figures]:
    """Figures of the local days beginning at each of ``starts`` (aware local midnights)."""
    bounds = [(iso(day), iso(_next_midnight(day))) for day in starts]
    rows = await q.day_figures(ctx.db.reader, bounds, str(ctx.settings.exchange_rate))
    found: dict[date, Figures] = {}
    for day, r in zip(starts, rows, strict=True):
        found[day.date()] = Figures(
            orders=r["orders"], sales=r["sales"], revenue=r["sales"] - r["refunded"],
            cost_micro=r["cost_micro"], estimated=r["estimated"], refunds=r["refunds"],
            refund_count=r["refund_count"], new_customers=r["new_customers"],
            topups={m: (r[f"n_{m}"], r[f"a_{m}"]) for m in q.TOPUP_METHODS if r[f"n_{m}"]},
            by_status={s: r[f"s_{s}"] for s in q.STATUSES if r[f"s_{s}"]},
        )  # fmt: skip
    return found


def _next_midnight(day: datetime) -> datetime:
    """The next local midnight (a calendar day later, whatever the clock change)."""
    following = (day + timedelta(days=1, hours=12)).date()
    return datetime.combine(following, datetime.min.time(), tzinfo=day.tzinfo)


async def by_day(ctx: ShopContext, days: int = 30, past: PastDays | None = None) -> Report:
    """The last ``days`` local days (today included) and the periods of PERIODS."""
    midnight = local_midnight(ctx)
    today = midnight.date()
    starts = [
        datetime.combine(today - timedelta(days=n), datetime.min.time(), tzinfo=midnight.tzinfo)
        for n in range(days - 1, -1, -1)
    ]
    cached = past.get(today, days) if past is not None else None
    if cached is None:
        cached = await _days(ctx, starts[:-1])
        if past is not None:
            past.put(today, days, cached)
    figures = {**cached, **await _days(ctx, starts[-1:])}
    series = [(start.date(), figures.get(start.date(), Figures())) for start in starts]
    periods: dict[str, Figures] = {}
    for name, length in PERIODS.items():
        total = Figures()
        for _d, f in series[-length:]:
            total.add(f)
        periods[name] = total
    return Report(series, periods)
