"""Card top-ups through a payment gateway (Toss Payments first): checkout, settle, reconcile.

The money path:

1. ``create_checkout`` stores our orderId, the customer, the amount, ``ready`` and an
   expiry, with an unguessable one-time token for the pay page (the amount is never in
   a URL).
2. ``settle`` (the success redirect) checks orderId ours, token the checkout's, amount
   equal to the *stored* amount (a tampered amount is refused and nothing is
   confirmed), ``ready`` and not expired; then compare-and-set ``ready → confirming``
   with the paymentKey, committed *before* the gateway is asked, so a crash or a second
   tab can never lose track of a confirm that may have happened.
3. The gateway confirms with the stored amount (idempotent per order). Only a Payment
   the gateway itself returned (confirm or lookup) can credit, and only when it is DONE
   for exactly this orderId, amount and KRW (the re-check).
4. ``_credit``: one transaction: re-read, topups row (``external_id`` = paymentKey,
   unique), ledger row (``card:<paymentKey>``, unique), checkout ``→ done``, the
   customer's news in the outbox. A replay finds ``done`` and changes nothing.
5. No clear answer (timeout, 5xx, unknown code) is never guessed: look the order up; if
   that is unclear too, the checkout stays ``confirming`` and ``reconcile`` (scheduled)
   finishes it. Webhooks are unsigned, so they only make us fetch the payment again.

Approved top-ups are not refundable by the customer (terms 8); the shop offers no path.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from payments.gateway import (
    CardGateway,
    Declined,
    GatewayError,
    NotFound,
    OutcomeUnknown,
    Payment,
    PaymentStatus,
)
from shop import notices
from shop.admin import user_label
from shop.clock import parse_iso
from shop.context import ShopContext
from shop.crashpoints import crashpoint
from shop.models import User
from shop.parsing import InputError
from shop.topups import Topup
from storage import checkouts, ledger, topups, users
from storage.ledger import Posting

log = logging.getLogger(__name__)

PAY_PATH = "/pay/"  # the pay page: {public_url}/pay/<token>
RECONCILE_BATCH = 100
_PAYMENT_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class CheckoutStatus(StrEnum):
    READY = "ready"
    CONFIRMING = "confirming"
    DONE = "done"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Checkout:
    id: int
    order_id: str
    token: str
    user_id: int
    provider: str
    amount: int
    status: CheckoutStatus
    payment_key: str | None
    method: str | None
    receipt_url: str | None
    topup_id: int | None
    failure_code: str | None
    failure_message: str | None
    created_at: str
    expires_at: str

    @classmethod
    def from_row(cls, r: Any) -> Checkout:
        return cls(
            id=r["id"], order_id=r["order_id"], token=r["token"], user_id=r["user_id"],
            provider=r["provider"], amount=r["amount"], status=CheckoutStatus(r["status"]),
            payment_key=r["payment_key"], method=r["method"], receipt_url=r["receipt_url"],
            topup_id=r["topup_id"], failure_code=r["failure_code"],
            failure_message=r["failure_message"], created_at=r["created_at"],
            expires_at=r["expires_at"],
        )  # fmt: skip


class PageState(StrEnum):
    PAYABLE = "payable"
    CONFIRMING = "confirming"  # a payment is being confirmed or checked
    PAID = "paid"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class PayPage:
    """What the pay page shows for a token."""

    checkout: Checkout
    state: PageState
    shop_name: str
    language: str
    balance: int
    order_name: str
    expires_local: datetime  # in the shop's time zone


@dataclass(frozen=True, slots=True)
class PaidCard:
    """A paid card top-up for the admins' views."""

    topup: Topup  # amount, pay_method, receipt_url
    customer: str
    paid_at: datetime  # in the shop's time zone


class Settle(StrEnum):
    CREDITED = "credited"  # credited by this call
    ALREADY = "already"  # credited before (reload, another browser, the webhook first)
    PENDING = "pending"  # not known yet: the reconciler finishes it and the chat is told
    DECLINED = "declined"  # the gateway said no; payable again until it expires
    EXPIRED = "expired"
    BUSY = "busy"  # another payment for this checkout is being confirmed
    UNKNOWN_ORDER = "unknown_order"
    FOREIGN = "foreign"  # the page token is another checkout's (another customer's)
    TAMPERED = "tampered"  # the amount differs from the stored one: nothing confirmed

    @property
    def refused(self) -> bool:
        return self in (Settle.UNKNOWN_ORDER, Settle.FOREIGN, Settle.TAMPERED)


@dataclass(frozen=True, slots=True)
class SettleResult:
    outcome: Settle
    checkout: Checkout | None = None
    balance: int | None = None
    language: str = "ko"
    code: str | None = None  # the gateway's reason for DECLINED
    message: str | None = None


@dataclass
class ReconcileReport:
    looked: int = 0
    credited: int = 0
    released: int = 0  # back to ready (payable) or expired
    unknown: int = 0


class CardService:
    def __init__(self, ctx: ShopContext, gateway: CardGateway | None) -> None:
        self.ctx = ctx
        self.gateway = gateway
        # One settle per order at a time in this process: a double click waits for the
        # first and then sees it done. (Across processes the database CAS still decides.)
        self._locks: dict[str, _OrderLock] = {}

    @property
    def enabled(self) -> bool:
        """Card top-up is offered only with a gateway and a public address for the page."""
        return self.gateway is not None and bool(self.ctx.settings.public_url)

    @property
    def shop_name(self) -> str:
        return self.ctx.settings.name

    def limits(self) -> dict[str, int]:
        s = self.ctx.settings
        return {"min": s.card_min, "max": s.card_max}

    def check_amount(self, amount: int) -> None:
        s = self.ctx.settings
        if amount < s.card_min or amount > s.card_max:
            raise InputError("input.out_of_range", {"min": s.card_min, "max": s.card_max})

    def pay_url(self, checkout: Checkout) -> str:
        base = (self.ctx.settings.public_url or "").rstrip("/")
        return f"{base}{PAY_PATH}{checkout.token}"

    def return_urls(self, checkout: Checkout) -> tuple[str, str]:
        """Where the gateway sends the buyer back: (success, fail), with our page token
        (gateways keep the merchant's own query parameters and append theirs)."""
        base = f"{(self.ctx.settings.public_url or '').rstrip('/')}{PAY_PATH}{checkout.provider}"
        return f"{base}/success?t={checkout.token}", f"{base}/fail?t={checkout.token}"

    def order_name(self, amount: int) -> str:
        # Shown in the gateway's window and on the card statement's receipt (≤100 chars).
        return f"{self.ctx.settings.name} 잔액 충전 {amount:,}원"[:100]

    def _gateway(self) -> CardGateway:
        if self.gateway is None:
            raise InputError("card.disabled")
        return self.gateway

    # ---- checkout ------------------------------------------------------------------

    async def create_checkout(self, user_id: int, amount: int) -> Checkout:
        gateway = self._gateway()
        if not self.enabled:
            raise InputError("card.disabled")
        self.check_amount(amount)
        now = self.ctx.now_iso()
        expires = self.ctx.now_iso(minutes=self.ctx.settings.card_checkout_minutes)
        async with self.ctx.db.transaction() as conn:
            checkout_id = await checkouts.insert(
                conn, order_id="c" + secrets.token_urlsafe(15), token=secrets.token_urlsafe(24),
                user_id=user_id, provider=gateway.name, amount=amount, now=now,
                expires_at=expires,
            )  # fmt: skip
            row = await checkouts.get(conn, checkout_id)
        return Checkout.from_row(row)

    async def page(self, token: str) -> PayPage | None:
        """The pay page for ``token``; None for a token that is not a checkout's."""
        if not token or len(token) > 64:
            return None
        row = await checkouts.by_token(self.ctx.db.reader, token)
        if row is None:
            return None
        return await self._page(Checkout.from_row(row))

    async def page_for_order(self, order_id: str) -> PayPage | None:
        row = await checkouts.by_order(self.ctx.db.reader, order_id)
        return None if row is None else await self._page(Checkout.from_row(row))

    async def _page(self, c: Checkout) -> PayPage:
        user = await users.get(self.ctx.db.reader, c.user_id)
        state = {
            CheckoutStatus.READY: PageState.PAYABLE,
            CheckoutStatus.CONFIRMING: PageState.CONFIRMING,
            CheckoutStatus.DONE: PageState.PAID,
            CheckoutStatus.EXPIRED: PageState.EXPIRED,
        }[c.status]
        if state is PageState.PAYABLE and self._expired(c):
            state = PageState.EXPIRED
        return PayPage(
            checkout=c, state=state, shop_name=self.ctx.settings.name,
            language=user["language"] if user else "ko", balance=user["balance"] if user else 0,
            order_name=self.order_name(c.amount),
            expires_local=parse_iso(c.expires_at).astimezone(ZoneInfo(self.ctx.settings.timezone)),
        )  # fmt: skip

    def _expired(self, c: Checkout) -> bool:
        return self.ctx.now() >= parse_iso(c.expires_at)

    # ---- settle (the success redirect) ---------------------------------------------

    async def settle(
        self, order_id: str, payment_key: str, amount: str | int, token: str | None = None
    ) -> SettleResult:
        """The success URL's ``orderId``/``paymentKey``/``amount`` (untrusted) and our own
        ``t=`` token: verify, confirm with the stored amount, credit exactly once."""
        gateway = self._gateway()
        row = await checkouts.by_order(self.ctx.db.reader, order_id) if order_id else None
        if row is None:
            log.info("card settle refused: unknown orderId")
            return SettleResult(Settle.UNKNOWN_ORDER)
        c = Checkout.from_row(row)
        lang = await self._language(c.user_id)
        if token is not None and not secrets.compare_digest(token, c.token):
            log.warning("card settle refused: token of another checkout for %s", c.order_id)
            return SettleResult(Settle.FOREIGN, language=lang)
        if str(amount) != str(c.amount) or not _PAYMENT_KEY_RE.match(payment_key or ""):
            log.warning("card settle refused: amount %r is not the stored %s for %s",
                        str(amount)[:20], c.amount, c.order_id)  # fmt: skip
            return SettleResult(Settle.TAMPERED, c, language=lang)
        async with self._lock(c.order_id):
            row = await checkouts.by_order(self.ctx.db.reader, order_id)
            c = Checkout.from_row(row)
            if c.status is CheckoutStatus.DONE:
                return await self._result(Settle.ALREADY, c)
            if c.status is CheckoutStatus.CONFIRMING and c.payment_key != payment_key:
                return SettleResult(Settle.BUSY, c, language=lang)
            if c.status is CheckoutStatus.EXPIRED or (
                c.status is CheckoutStatus.READY and self._expired(c)
            ):
                return SettleResult(Settle.EXPIRED, c, language=lang)
            if c.status is CheckoutStatus.READY:
                now = self.ctx.now_iso()
                async with self.ctx.db.transaction() as conn:
                    claimed = await checkouts.update(
                        conn, c.id, CheckoutStatus.READY,
                        {"status": CheckoutStatus.CONFIRMING, "payment_key": payment_key,
                         "confirming_at": now, "failure_code": None, "failure_message": None},
                    )  # fmt: skip
                    row = await checkouts.get(conn, c.id)
                c = Checkout.from_row(row)
                if not claimed:  # changed between our read and the claim: look again
                    return await self._result(Settle.PENDING, c)
            # confirming with this paymentKey: ours now, or left by a crash or another tab
            return await self._confirm(gateway, c, payment_key)

    async def _confirm(
        self, gateway: CardGateway, c: Checkout, payment_key: str, *, tell: bool = False
    ) -> SettleResult:
        """``tell``: the buyer is not on the page to see the answer (the reconciler, a
        webhook), so a decline reaches their chat as news."""
        try:
            payment = await gateway.confirm(
                payment_key=payment_key, order_id=c.order_id, amount=c.amount
            )
        except Declined as exc:
            log.info("card confirm declined for %s: %s", c.order_id, exc.code)
            return await self._release(c, payment_key, exc, tell=tell)
        except NotFound as exc:
            return await self._release(c, payment_key, exc, tell=tell)
        except OutcomeUnknown as exc:
            # Never guess: Toss may have approved it. Ask for the order's payment.
            log.warning("card confirm for %s has no clear answer (%s); looking it up",
                        c.order_id, exc.code)  # fmt: skip
            return await self._lookup_and_apply(gateway, c, tell=tell)
        crashpoint("after_card_confirm")
        return await self._apply(c, payment, tell=tell)

    async def _lookup_and_apply(
        self, gateway: CardGateway, c: Checkout, *, tell: bool = False
    ) -> SettleResult:
        try:
            payment = await gateway.payment_by_order(c.order_id)
        except GatewayError as exc:
            log.warning("card lookup for %s failed (%s); the reconciler retries",
                        c.order_id, exc.code)  # fmt: skip
            return await self._result(Settle.PENDING, c)
        return await self._apply(c, payment, tell=tell)

    async def _apply(self, c: Checkout, payment: Payment, *, tell: bool = False) -> SettleResult:
        """Act on a Payment the gateway returned (never on a redirect or webhook body)."""
        if payment.order_id != c.order_id:
            log.error("gateway returned payment for %s when asked about %s",
                      payment.order_id, c.order_id)  # fmt: skip
            return await self._result(Settle.PENDING, c)
        if payment.settles(c.order_id, c.amount):
            return await self._credit(c, payment)
        if payment.status is PaymentStatus.DONE:
            # Approved, but not for our amount/currency: never credited automatically.
            log.error("card payment %s for %s is DONE with %s %s, expected %s KRW",
                      payment.payment_key, c.order_id, payment.total_amount, payment.currency,
                      c.amount)  # fmt: skip
            return await self._result(Settle.PENDING, c)
        if payment.status.final_unpaid or payment.status in (
            PaymentStatus.CANCELED, PaymentStatus.PARTIAL_CANCELED,
        ):  # fmt: skip
            err = Declined(payment.failure_code or payment.status.value,
                           payment.failure_message or "")  # fmt: skip
            return await self._release(c, payment.payment_key, err, tell=tell)
        return await self._result(Settle.PENDING, c)

    async def _release(
        self, c: Checkout, payment_key: str, err: GatewayError, *, tell: bool = False
    ) -> SettleResult:
        """A definite no for ``payment_key``: the checkout is payable again (or expired).
        With ``tell`` the buyer, last shown "being checked", hears it in their chat."""
        expired = self._expired(c)
        status = CheckoutStatus.EXPIRED if expired else CheckoutStatus.READY
        fields = {"status": status, "payment_key": None, "confirming_at": None,
                  "failure_code": err.code[:64], "failure_message": err.message[:300]}  # fmt: skip
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            moved = await checkouts.update(conn, c.id, CheckoutStatus.CONFIRMING, fields,
                                           expect_payment_key=payment_key)  # fmt: skip
            if moved and tell:
                user = await users.get(conn, c.user_id)
                await notices.to_user(
                    conn, user_row=user, key=f"card:{c.order_id}:declined:{payment_key}",
                    event="card_declined" if not expired else "card_declined_expired",
                    payload={"amount": c.amount,
                             "reason": (err.message or err.code)[:200]},
                    now=now,
                )  # fmt: skip
            row = await checkouts.get(conn, c.id)
        c = Checkout.from_row(row)
        if c.status is CheckoutStatus.DONE:
            return await self._result(Settle.ALREADY, c)
        outcome = Settle.EXPIRED if c.status is CheckoutStatus.EXPIRED else Settle.DECLINED
        return SettleResult(outcome, c, language=await self._language(c.user_id),
                            code=err.code, message=err.message)  # fmt: skip

    async def _credit(self, c: Checkout, payment: Payment) -> SettleResult:
        """One transaction: topups row + ledger row + checkout done + the customer's news."""
        now = self.ctx.now_iso()
        try:
            async with self.ctx.db.transaction() as conn:
                # Re-check inside the write lock: done, or this paymentKey credited before.
                row = await checkouts.get(conn, c.id)
                key = payment.payment_key
                if row["status"] == CheckoutStatus.DONE or (
                    await topups.get_by_external(conn, key) is not None
                ):
                    raise _AlreadyCredited
                topup_id = await topups.insert(
                    conn, user_id=c.user_id, method="card", amount=c.amount, status="paid",
                    now=now, external_id=payment.payment_key, receipt_url=payment.receipt_url,
                    pay_method=payment.method,
                )  # fmt: skip
                posted = await ledger.post(
                    conn,
                    Posting(c.user_id, c.amount, "topup", f"card:{payment.payment_key}",
                            topup_id=topup_id, note=f"card {c.order_id}"),
                    now,
                )  # fmt: skip
                moved = await checkouts.update(
                    conn, c.id, (CheckoutStatus.READY, CheckoutStatus.CONFIRMING,
                                 CheckoutStatus.EXPIRED),
                    {"status": CheckoutStatus.DONE, "payment_key": payment.payment_key,
                     "topup_id": topup_id, "method": payment.method,
                     "receipt_url": payment.receipt_url, "settled_at": now},
                )  # fmt: skip
                if not posted or not moved:
                    raise _AlreadyCredited
                user = await users.get(conn, c.user_id)
                await notices.to_user(
                    conn, user_row=user, key=f"card:{c.order_id}:paid", event="topup_approved",
                    payload={"topup_id": topup_id, "amount": c.amount,
                             "balance": user["balance"], "method": "card"},
                    now=now,
                )  # fmt: skip
                row = await checkouts.get(conn, c.id)
        except _AlreadyCredited:
            # Credited already (the unique keys back this up): a replay is a no-op.
            log.info("card payment %s was credited before", payment.payment_key)
            row = await checkouts.get(self.ctx.db.reader, c.id)
            return await self._result(Settle.ALREADY, Checkout.from_row(row))
        log.info("card top-up %s credited: %s원 to user %s", c.order_id, c.amount, c.user_id)
        return SettleResult(Settle.CREDITED, Checkout.from_row(row), user["balance"],
                            user["language"])  # fmt: skip

    async def _result(self, outcome: Settle, c: Checkout) -> SettleResult:
        user = await users.get(self.ctx.db.reader, c.user_id)
        return SettleResult(outcome, c, user["balance"] if user else None,
                            user["language"] if user else "ko")  # fmt: skip

    async def _language(self, user_id: int) -> str:
        user = await users.get(self.ctx.db.reader, user_id)
        return user["language"] if user else "ko"

    @asynccontextmanager
    async def _lock(self, order_id: str) -> AsyncIterator[None]:
        # Counted, not checked with locked(): between a release and the next waiter's
        # wake-up the lock reads unlocked, and a fresh lock then would admit a second holder.
        entry = self._locks.setdefault(order_id, _OrderLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[order_id]

    # ---- webhook and reconciliation -------------------------------------------------

    async def webhook(self, body: bytes) -> bool:
        """An unsigned gateway webhook: only a hint to fetch the payment with our secret
        key and act on what the gateway says. False when the body is not a payment event."""
        gateway = self._gateway()
        hint = gateway.parse_webhook(body)
        if hint is None:
            return False
        try:
            if hint.payment_key:
                payment = await gateway.payment(hint.payment_key)
            else:
                assert hint.order_id is not None
                payment = await gateway.payment_by_order(hint.order_id)
        except GatewayError as exc:
            log.info("webhook for %s: fetch failed (%s)", hint.order_id, exc.code)
            return True  # the reconciler covers anything we had started
        row = await checkouts.by_order(self.ctx.db.reader, payment.order_id)
        if row is None:
            return True  # not ours
        async with self._lock(payment.order_id):
            row = await checkouts.by_order(self.ctx.db.reader, payment.order_id)
            c = Checkout.from_row(row)
            if c.status is not CheckoutStatus.DONE and (
                payment.status is PaymentStatus.DONE or c.payment_key == payment.payment_key
            ):
                await self._apply(c, payment, tell=True)
        return True

    async def reconcile(self) -> ReconcileReport:
        """Every checkout left unsettled: ``confirming`` ones are looked up (and confirmed
        again with the same key while the gateway still waits for it); expired ``ready``
        ones get a last look before they are closed."""
        report = ReconcileReport()
        if self.gateway is None:
            return report
        gateway = self.gateway
        rows = await checkouts.unsettled(self.ctx.db.reader, self.ctx.now_iso(), RECONCILE_BATCH)
        for row in rows:
            c = Checkout.from_row(row)
            if c.order_id in self._locks:
                continue  # a settle in this process is on it right now
            async with self._lock(c.order_id):
                report.looked += 1
                result = await self._reconcile_one(gateway, c)
            if result is None or result.outcome is Settle.PENDING:
                report.unknown += 1
            elif result.outcome in (Settle.CREDITED,):
                report.credited += 1
            elif result.outcome in (Settle.DECLINED, Settle.EXPIRED):
                report.released += 1
        if report.looked:
            log.info("card reconcile: %s", report)
        return report

    async def _reconcile_one(self, gateway: CardGateway, c: Checkout) -> SettleResult | None:
        row = await checkouts.get(self.ctx.db.reader, c.id)
        c = Checkout.from_row(row)
        if c.status not in (CheckoutStatus.READY, CheckoutStatus.CONFIRMING):
            return None
        try:
            payment = await gateway.payment_by_order(c.order_id)
        except NotFound:
            payment = None
        except GatewayError as exc:
            log.warning("card reconcile: lookup of %s failed (%s)", c.order_id, exc.code)
            return None
        if c.status is CheckoutStatus.READY:
            if payment is not None and payment.status is PaymentStatus.DONE:
                return await self._apply(c, payment)
            async with self.ctx.db.transaction() as conn:
                await checkouts.update(conn, c.id, CheckoutStatus.READY,
                                       {"status": CheckoutStatus.EXPIRED})  # fmt: skip
            return SettleResult(Settle.EXPIRED, c)
        assert c.payment_key is not None
        if (
            payment is not None
            and payment.payment_key != c.payment_key
            and (payment.status is not PaymentStatus.DONE)
        ):
            # The order's latest payment is another attempt: ask about ours.
            try:
                payment = await gateway.payment(c.payment_key)
            except NotFound:
                payment = None
            except GatewayError as exc:
                log.warning("card reconcile: lookup of %s failed (%s)", c.order_id, exc.code)
                return None
        if payment is None or payment.status is PaymentStatus.IN_PROGRESS:
            # Authenticated but not approved (a crash before the confirm, or a lost one):
            # confirm again with the same Idempotency-Key; a bogus key ends as not found.
            return await self._confirm(gateway, c, c.payment_key, tell=True)
        return await self._apply(c, payment, tell=True)

    # ---- admin view ----------------------------------------------------------------

    async def recent_paid(self, limit: int = 10) -> list[PaidCard]:
        """Paid card top-ups, newest first: amount, method, receipt link, customer."""
        reader = self.ctx.db.reader
        tz = ZoneInfo(self.ctx.settings.timezone)
        paid = []
        for r in await checkouts.recent_card_topups(reader, limit):
            user = await users.get(reader, r["user_id"])
            who = user_label(User.from_row(user)) if user else f"#{r['user_id']}"
            paid.append(PaidCard(Topup.from_row(r), who, parse_iso(r["created_at"]).astimezone(tz)))
        return paid

    async def checkout(self, order_id: str) -> Checkout | None:
        row = await checkouts.by_order(self.ctx.db.reader, order_id)
        return None if row is None else Checkout.from_row(row)


@dataclass
class _OrderLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting


class _AlreadyCredited(Exception):
    """Rolls the credit transaction back: the unique keys say it happened before."""
