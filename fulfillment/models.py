"""Typed results and errors of the SMM panel API v2 client.

The shop acts on exactly two failure kinds:
- PanelRejected: the panel answered with a definite ``{"error": ...}``; for ``add`` this
  means nothing was created and nothing charged.
- PanelUnavailable: no clear answer (timeout after sending, 5xx, 429, HTML or non-JSON
  body, connection reset). For ``add`` the outcome is unknown and must never be retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class PanelError(Exception):
    """Base of every error the client raises. Messages never contain the API key."""


class PanelRejected(PanelError):
    """The panel said no (``{"error": "..."}``). ``message`` is the panel's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def is_funds(self) -> bool:
        m = self.message.lower()
        return "not enough funds" in m or "not_enough_funds" in m

    @property
    def is_duplicate_link(self) -> bool:
        m = self.message.lower()
        return "active order with this link" in m or "link_duplicate" in m


class PanelUnavailable(PanelError):
    """No clear answer. ``request_sent`` is False only when the request surely never left
    (connect error), which is the one case where even ``add`` could be retried safely."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, request_sent: bool = True
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.request_sent = request_sent


class ServiceType(StrEnum):
    DEFAULT = "default"
    PACKAGE = "package"
    CUSTOM_COMMENTS = "custom_comments"
    SUBSCRIPTIONS = "subscriptions"
    OTHER = "other"  # synced but not sellable until mapped


class PanelStatus(StrEnum):
    """Normalized order status (provider-api.md §4.1)."""

    PENDING = "pending"
    PROCESSING = "processing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    PARTIAL = "partial"
    CANCELED = "canceled"
    FAILED = "failed"  # Fail / Error: terminal, needs a human look
    EXPIRED = "expired"  # subscriptions only
    PAUSED = "paused"  # subscriptions only
    UNKNOWN = "unknown"  # a word we do not know: keep polling, alert


@dataclass(frozen=True, slots=True)
class PanelService:
    service_id: str
    name: str
    type: ServiceType
    raw_type: str
    category: str
    rate: Decimal  # per 1000 units, panel currency
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AddRequest:
    """One ``action=add``. Only the fields the service type needs are sent."""

    service_id: str
    type: ServiceType
    link: str | None = None
    quantity: int | None = None
    runs: int | None = None
    interval: int | None = None
    comments: tuple[str, ...] = ()
    username: str | None = None
    min: int | None = None
    max: int | None = None
    posts: int | None = None
    delay: int | None = None
    expiry: str | None = None  # d/m/Y as panels expect


@dataclass(frozen=True, slots=True)
class OrderStatus:
    status: PanelStatus
    raw_status: str
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None  # may be negative (over-delivery); the shop clamps
    currency: str | None = None
    child_orders: tuple[str, ...] = ()  # drip-feed / subscription children
    posts: int | None = None
    runs: int | None = None
    runs_done: int | None = None  # drip-feed run counter ("delivery"), when the panel has one
    children_listed: bool = False  # the answer carried an ``orders`` list (maybe empty)


@dataclass(frozen=True, slots=True)
class ItemError:
    """A per-item error inside a batch answer (data, not a failed call)."""

    error: str


@dataclass(frozen=True, slots=True)
class Balance:
    amount: Decimal
    currency: str | None


@dataclass(frozen=True, slots=True)
class RefillStatus:
    status: str  # normalized lower-case: pending, in_progress, completed, rejected, error...
    raw_status: str


@dataclass(slots=True)
class StatusBatch:
    """Result of a multi-status poll: every requested id maps to a status or an error."""

    results: dict[str, OrderStatus | ItemError] = field(default_factory=dict)
    calls: int = 0
