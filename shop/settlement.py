"""The refund rule, in one place: what the panel did with an order, as the customer's refund.

Every finished order is refunded ``floor(price × share)``, where ``share`` is the part of
what the order cost at the panel that the panel gave back to us (for auto-likes: the part
of the reserve the panel did not use). How the share is known depends on the service type
and on what the panel's answer carries, best evidence first:

1. ``charge`` lowered below what the order cost there. Many panels lower it on
   Partial/Canceled to what they kept: share = (cost − charge) / cost. The cost is the
   highest charge the panel showed while the order was unfinished, else rate × quantity
   (the flat rate for a package) as quoted.
2. Units, when the charge says nothing (not reported, or unchanged):
   - per-unit types (Default, Custom Comments…): Partial → remains / units ordered;
     Canceled → all of it; Completed → nothing;
   - Package: remains / the package's real quantity (catalog min = max, or the panel's
     remains before delivery started); unknown → review, never a guess;
   - Drip-feed: the runs never sent, plus what each sent run's own rule returned, over
     the runs (the runs' statuses); or the runs not delivered over the runs (the parent's
     run counter);
   - Subscriptions (auto-likes): the reserve (max × posts) minus the units the panel kept
     for its posts' orders, over the reserve — only once every post's order has a final
     answer.

An answer that is not final yet is a ``Wait`` (``blocked`` when it is an error or a
missing id, which starts the clock that sends the order to review); an answer the rules
cannot read is a ``Review`` for a human. Pure functions: no I/O, no clock.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from fulfillment.models import ItemError, OrderStatus, PanelStatus
from shop import money
from shop import statuses as st

ZERO, ALL = Fraction(0), Fraction(1)

# Panel words after which an order's money no longer changes.
FINAL = frozenset(
    {PanelStatus.COMPLETED, PanelStatus.PARTIAL, PanelStatus.CANCELED, PanelStatus.EXPIRED}
)

# How the panel shows ``charge`` after it refunded part of an order (learned, see
# ``charge_style``): "lowered" to what it kept, or "kept" as it was.
LOWERED, KEPT = "lowered", "kept"


@dataclass(frozen=True, slots=True)
class Returned:
    """The panel gave back ``share`` of the order's cost (or of the reserve)."""

    share: Fraction
    basis: str  # which evidence decided: charge, remains, status, runs, counters, posts
    delivered: int | None = None  # units delivered, as far as known (for the notice)
    remains: int | None = None  # units not delivered, as far as known


@dataclass(frozen=True, slots=True)
class Review:
    """The answer cannot be turned into money safely: a human decides."""

    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Not final yet. ``blocked``: an error or a missing answer (not just slowness)."""

    reason: str
    blocked: bool


Verdict = Returned | Review | Wait
Children = dict[str, OrderStatus | ItemError]


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the shop stored about an order that the rules need."""

    kind: str  # "order" | "subscription"
    service_type: str | None
    quantity: int  # units priced: quantity × runs, lines, 1 package, max × posts
    runs: int | None
    package_qty: int | None
    rate: Decimal  # panel rate per 1000 when quoted (flat per package)
    charge_seen: Decimal | None

    @classmethod
    def of(cls, row: Any) -> OrderFacts:
        seen = row["charge_seen"]
        return cls(
            kind=row["kind"], service_type=row["service_type"], quantity=row["quantity"],
            runs=row["runs"], package_qty=row["package_qty"], rate=Decimal(row["rate"]),
            charge_seen=Decimal(seen) if seen else None,
        )  # fmt: skip

    @property
    def is_package(self) -> bool:
        return self.service_type == "package"

    @property
    def is_dripfeed(self) -> bool:
        return self.kind == "order" and bool(self.runs)

    @property
    def units(self) -> int | None:
        """Units the panel delivers for the order (None: a package of unknown size)."""
        return self.package_qty if self.is_package else self.quantity

    @property
    def cost(self) -> tuple[Decimal | None, bool]:
        """(what the order cost at the panel, whether the panel showed it)."""
        if self.charge_seen is not None and self.charge_seen > 0:
            return self.charge_seen, True
        quoted = self.rate if self.is_package else self.rate * self.quantity / 1000
        return (quoted if quoted > 0 else None), False


def refund(price: int, share: Fraction) -> int:
    """floor(price × share), share clamped to [0, 1]: never more than was paid."""
    share = min(max(share, ZERO), ALL)
    return price * share.numerator // share.denominator


def target_status(word: PanelStatus, share: Fraction) -> str:
    """The shop's final status: Canceled costs 0 (FAQ 5), so a Canceled that kept
    something is shown as partial, as is a Completed that gave something back."""
    if word == PanelStatus.PARTIAL:
        return st.PARTIAL
    if word == PanelStatus.CANCELED:
        return st.CANCELED if share >= ALL else st.PARTIAL
    return st.COMPLETED if share <= ZERO else st.PARTIAL


def _clamp(value: int | None, hi: int) -> int | None:
    return None if value is None else min(max(value, 0), hi)


def _by_charge(cost: Decimal | None, shown: bool, charge: Decimal | None) -> Fraction | None:
    """The share the charge proves was returned; None when it proves nothing."""
    if cost is None or charge is None:
        return None
    if not shown:
        # A quoted cost has more digits than the panel prints (PP: 5 dp); compare at the
        # panel's precision, or rounding would look like a refund.
        exponent = charge.as_tuple().exponent
        if isinstance(exponent, int) and exponent < 0:
            with suppress(InvalidOperation):  # more digits than Decimal carries: as is
                cost = cost.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_DOWN)
    if charge >= cost:
        return None
    return (Fraction(cost) - Fraction(max(charge, Decimal(0)))) / Fraction(cost)


def plain(
    f: OrderFacts,
    s: OrderStatus,
    *,
    units: int | None = None,
    cost: tuple[Decimal | None, bool] | None = None,
) -> Returned | Review:
    """One panel order with a final word (a whole order, or one run of a drip-feed)."""
    units = f.units if units is None else units
    cost_value, shown = f.cost if cost is None else cost
    remains = _clamp(s.remains, units) if units else None
    if s.status in (PanelStatus.COMPLETED, PanelStatus.EXPIRED):
        return Returned(ZERO, "status", delivered=units, remains=0)
    share = _by_charge(cost_value, shown, s.charge)
    if share is not None:
        left = None if units is None else int(units * share)
        return Returned(share, "charge", None if left is None else units - left, left)
    if s.status == PanelStatus.CANCELED:
        return Returned(ALL, "status", delivered=0, remains=units)
    if units is None:
        return Review("Partial, but the package's quantity is not known")
    if remains is None:
        return Review(f"Partial without usable remains ({s.remains})")
    return Returned(Fraction(remains, units), "remains", units - remains, remains)


def _final_children(s: OrderStatus, children: Children | None) -> list[OrderStatus] | Verdict:
    """Every listed child's final answer, or why the parent cannot settle yet."""
    if children is None and s.child_orders:
        return Wait("the statuses of its runs/posts are unavailable", blocked=False)
    children = children or {}
    found = []
    for child_id in s.child_orders:
        answer = children.get(child_id, ItemError("missing in answer"))
        if isinstance(answer, ItemError):
            return Wait(f"order {child_id}: {answer.error}", blocked=True)
        if answer.status in (PanelStatus.FAILED, PanelStatus.UNKNOWN):
            return Review(f"order {child_id} ended {answer.raw_status!r}")
        if answer.status not in FINAL:
            return Wait(f"order {child_id} is still {answer.raw_status!r}", blocked=False)
        found.append(answer)
    return found


def dripfeed(f: OrderFacts, s: OrderStatus, children: Children | None) -> Verdict:
    """A drip-feed parent with a final word: from its runs, else its run counter."""
    if s.charge is not None and not s.children_listed and s.runs_done is None:
        return plain(f, s)  # a panel that answers for drip-feeds like for any order
    runs = f.runs or s.runs
    if not runs:
        return Review("drip-feed without a run count")
    if s.children_listed:
        found = _final_children(s, children)
        if not isinstance(found, list):
            return found
        sent = len(found)
        if sent > runs:
            return Review(f"{sent} runs reported for {runs} ordered")
        if s.status == PanelStatus.COMPLETED and sent < runs:
            return Review(f"Completed with {sent} of {runs} runs sent")
        cost, shown = f.cost
        per_run = (None if cost is None else cost / runs, shown)
        share = Fraction(runs - sent)
        for run in found:
            verdict = plain(f, run, units=f.quantity // runs, cost=per_run)
            if isinstance(verdict, Review):
                return verdict
            share += verdict.share
        share /= runs
        left = int(f.quantity * share)
        return Returned(share, "runs", f.quantity - left, left)
    if s.runs_done is not None:
        if s.status == PanelStatus.COMPLETED:
            return Returned(ZERO, "status", f.quantity, 0)
        done = min(s.runs_done, runs)
        left = f.quantity * (runs - done) // runs
        return Returned(Fraction(runs - done, runs), "counters", f.quantity - left, left)
    if s.status == PanelStatus.COMPLETED:
        return Returned(ZERO, "status", f.quantity, 0)
    return Review(f"drip-feed {s.raw_status!r} without its runs or a run counter")


def subscription(
    f: OrderFacts, s: OrderStatus, children: Children | None, style: str | None
) -> Verdict:
    """An ended auto-likes subscription: the reserve minus what its posts' orders kept."""
    if not s.children_listed:
        return Review(f"subscription {s.raw_status!r} without the list of its posts' orders")
    found = _final_children(s, children)
    if not isinstance(found, list):
        return found
    kept = 0
    for child_id, post in zip(s.child_orders, found, strict=True):
        if post.status == PanelStatus.CANCELED:
            continue
        if post.charge is None:
            return Review(f"order {child_id} ended {post.raw_status!r} without a charge")
        units = money.units_from_charge(post.charge, f.rate)
        if post.status == PanelStatus.PARTIAL:
            if style is None:
                return Review(
                    f"order {child_id} ended Partial and it is not known yet whether the "
                    "panel lowers the charge of a partial order"
                )
            if style == KEPT:
                remains = _clamp(post.remains, units)
                if remains is None:
                    return Review(f"order {child_id}: Partial without usable remains")
                units -= remains
        kept += units
    kept = min(kept, f.quantity)
    return Returned(Fraction(f.quantity - kept, f.quantity), "posts", kept, f.quantity - kept)


def charge_style(f: OrderFacts, s: OrderStatus) -> str | None:
    """What a finished ordinary order shows about the panel's way with ``charge``."""
    if f.charge_seen is None or s.charge is None:
        return None
    if s.status not in (PanelStatus.PARTIAL, PanelStatus.CANCELED):
        return None
    return LOWERED if s.charge < f.charge_seen else KEPT
