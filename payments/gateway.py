"""The card gateway interface the shop codes against, and its typed results and errors.

A second PG (PortOne, NicePay…) is a new module here implementing ``CardGateway``; the
shop does not change. Errors say what is *known*: ``Declined`` and ``NotFound`` are
definite (nothing was or will be charged by that call), ``OutcomeUnknown`` means the
payment may or may not have been approved, so the caller must look it up, never guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class PaymentStatus(StrEnum):
    READY = "READY"  # created, the buyer has not authenticated
    IN_PROGRESS = "IN_PROGRESS"  # authenticated, waiting for our confirm
    WAITING_FOR_DEPOSIT = "WAITING_FOR_DEPOSIT"  # virtual account: not paid
    DONE = "DONE"  # approved: the only status that credits
    CANCELED = "CANCELED"
    PARTIAL_CANCELED = "PARTIAL_CANCELED"
    ABORTED = "ABORTED"  # approval failed
    EXPIRED = "EXPIRED"  # the window or the confirm session ran out
    UNKNOWN = "UNKNOWN"  # a word this client does not know: never treated as paid

    @classmethod
    def parse(cls, word: object) -> PaymentStatus:
        try:
            return cls(str(word))
        except ValueError:
            return cls.UNKNOWN

    @property
    def final_unpaid(self) -> bool:
        """Nothing was captured and nothing more will happen to this payment."""
        return self in (PaymentStatus.ABORTED, PaymentStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class Payment:
    """The gateway's record of one payment, as fetched or confirmed (never from a redirect
    or a webhook body)."""

    payment_key: str
    order_id: str
    status: PaymentStatus
    total_amount: int
    currency: str
    method: str | None = None
    receipt_url: str | None = None
    approved_at: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None

    def settles(self, order_id: str, amount: int) -> bool:
        """Approved, for exactly this order and amount, in 원."""
        return (
            self.status is PaymentStatus.DONE
            and self.order_id == order_id
            and self.total_amount == amount
            and self.currency == "KRW"
        )


@dataclass(frozen=True, slots=True)
class WebhookHint:
    """What an (unsigned) webhook claims: only which payment to fetch again."""

    payment_key: str | None
    order_id: str | None
    event_type: str


class GatewayError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class Declined(GatewayError):
    """A definite no (card rejected, session expired, no such payment): nothing captured."""


class NotFound(GatewayError):
    """A lookup found no payment for that key or order."""


class OutcomeUnknown(GatewayError):
    """Timeout, 5xx, garbage, an unknown code: the payment may have been approved."""


class Misconfigured(OutcomeUnknown):
    """Our keys or request are wrong (401, invalid key): the operator must act. The state
    of the payment is unknown to us, so it is handled like any unknown outcome."""


class CardGateway(Protocol):
    """What the shop needs from a card PG."""

    name: str

    async def confirm(self, *, payment_key: str, order_id: str, amount: int) -> Payment:
        """Approve an authenticated payment for ``amount`` (our stored amount). Safe to
        repeat for the same order: the gateway replays the first answer."""
        ...

    async def payment(self, payment_key: str) -> Payment: ...

    async def payment_by_order(self, order_id: str) -> Payment: ...

    def parse_webhook(self, body: bytes) -> WebhookHint | None:
        """The payment a webhook body points at (None: not a payment event / garbage)."""
        ...

    async def aclose(self) -> None: ...
