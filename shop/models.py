"""Domain records the use-cases hand to the handlers (no Telegram types)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fulfillment.models import ServiceType
from shop import statuses as st

SELLABLE_TYPES = (
    ServiceType.DEFAULT,
    ServiceType.PACKAGE,
    ServiceType.CUSTOM_COMMENTS,
    ServiceType.SUBSCRIPTIONS,
)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    telegram_id: int | None
    username: str | None
    first_name: str
    language: str
    balance: int
    terms_accepted: bool
    blocked: bool
    front: str = "telegram"  # the front the customer uses: telegram | kakao
    external_id: str | None = None  # the front's id for them (Telegram id, Kakao botUserKey)

    @classmethod
    def from_row(cls, r: Any) -> User:
        return cls(
            id=r["id"], telegram_id=r["telegram_id"], username=r["username"],
            first_name=r["first_name"], language=r["language"], balance=r["balance"],
            terms_accepted=r["terms_accepted_at"] is not None, blocked=r["blocked_at"] is not None,
            front=r["front"], external_id=r["external_id"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Service:
    id: int
    panel_id: str
    name: str
    category: str
    type: ServiceType
    rate: Decimal
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str | None
    visible: bool
    removed: bool
    price_override: int | None

    @property
    def sellable(self) -> bool:
        # A panel can list a range no quantity fits (max 0, min > max): nothing to sell.
        return (
            self.visible and not self.removed and self.type in SELLABLE_TYPES
            and 1 <= self.max and self.min <= self.max
        )  # fmt: skip

    @property
    def package_qty(self) -> int | None:
        """Units a Package delivers: panels list a package with min = max = its size (a
        listing of 1/1 hides it; then the panel's first answer tells)."""
        if self.type != ServiceType.PACKAGE or self.min != self.max or self.min <= 1:
            return None
        return self.min

    @classmethod
    def from_row(cls, r: Any) -> Service:
        return cls(
            id=r["id"], panel_id=r["panel_id"], name=r["name"], category=r["category"],
            type=ServiceType(r["type"]), rate=Decimal(r["rate"]), min=r["min_qty"],
            max=r["max_qty"], refill=bool(r["refill"]), cancel=bool(r["cancel"]),
            dripfeed=bool(r["dripfeed"]), description=r["description"],
            visible=bool(r["visible"]), removed=r["removed_at"] is not None,
            price_override=r["price_override"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrderInput:
    """What the customer chose; which fields apply depends on the service type."""

    link: str | None = None
    quantity: int | None = None
    runs: int | None = None
    interval: int | None = None
    comments: tuple[str, ...] = ()
    username: str | None = None
    sub_min: int | None = None
    sub_max: int | None = None
    sub_posts: int | None = None
    sub_delay: int | None = None
    sub_expiry: str | None = None  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class Quote:
    token: str
    service: Service
    input: OrderInput
    units: int  # what the price is for (quantity × runs, lines, max × posts, 1 package)
    price: int
    price_per_1000: int
    balance: int
    expires_at: str

    @property
    def balance_after(self) -> int:
        return self.balance - self.price

    @property
    def missing(self) -> int:
        return max(0, self.price - self.balance)


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    user_id: int
    service_id: int
    service_name: str | None
    kind: str
    link: str | None
    username: str | None
    quantity: int
    runs: int | None
    price: int
    price_per_1000: int
    status: str
    panel_order_id: str | None
    remains: int | None
    start_count: int | None
    delivered: int | None
    refunded: int
    sub_min: int | None
    sub_max: int | None
    sub_posts: int | None
    created_at: str
    submitted_at: str | None
    started_at: str | None
    finished_at: str | None
    cancel_requested: bool
    refill_status: str | None
    refill_requested_at: str | None
    package_qty: int | None = None  # units a package order delivers, when known

    @property
    def amount_used(self) -> int:
        """FAQ: 0 for canceled/failed, price − refund for partial."""
        return self.price - self.refunded

    @property
    def finished(self) -> bool:
        return self.status in st.TERMINAL

    @property
    def progress(self) -> float | None:
        if self.remains is None or self.status not in (st.IN_PROGRESS, st.PARTIAL, st.COMPLETED):
            return None
        if self.status == st.COMPLETED:
            return 1.0
        units = self.package_qty or self.quantity
        done = units - min(max(self.remains, 0), units)
        return done / units

    @classmethod
    def from_row(cls, r: Any) -> Order:
        keys = r.keys()
        return cls(
            id=r["id"], user_id=r["user_id"], service_id=r["service_id"],
            service_name=r["service_name"] if "service_name" in keys else None,
            kind=r["kind"], link=r["link"], username=r["username"], quantity=r["quantity"],
            runs=r["runs"], price=r["price"], price_per_1000=r["price_per_1000"],
            status=r["status"], panel_order_id=r["panel_order_id"], remains=r["remains"],
            start_count=r["start_count"], delivered=r["delivered"], refunded=r["refunded"],
            sub_min=r["sub_min"], sub_max=r["sub_max"], sub_posts=r["sub_posts"],
            created_at=r["created_at"], submitted_at=r["submitted_at"],
            started_at=r["started_at"], finished_at=r["finished_at"],
            cancel_requested=r["cancel_requested_at"] is not None,
            refill_status=r["refill_status"], refill_requested_at=r["refill_requested_at"],
            package_qty=r["package_qty"] if "package_qty" in keys else None,
        )  # fmt: skip


class PlaceOutcome(StrEnum):
    PLACED = "placed"  # the panel accepted it
    REPLAYED = "replayed"  # this confirmation was already used: the existing order
    ACCEPTED = "accepted"  # paid and queued; the panel's answer comes later, as news
    NEEDS_REVIEW = "needs_review"  # no clear panel answer; debit kept, admins check
    FAILED = "failed"  # the panel said no; refunded, costs 0
    INSUFFICIENT = "insufficient"
    DUPLICATE_JOB = "duplicate_job"
    EXPIRED = "expired"  # the confirmation card is too old: quote again
    UNAVAILABLE = "unavailable"  # the service was hidden or removed since the quote
    NOT_FOUND = "not_found"  # no such confirmation for this customer
    BLOCKED = "blocked"  # the owner blocked the customer; nothing was charged


@dataclass(frozen=True, slots=True)
class PlaceResult:
    outcome: PlaceOutcome
    order: Order | None = None
    missing: int = 0  # for INSUFFICIENT
    error: str | None = None  # the panel's text for FAILED (admins only)
