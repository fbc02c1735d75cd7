"""Ordering: quote → place (debit + order in one commit) → submit to the panel.

The money path: the order row and its debit commit together; the panel call happens
after that commit and outside any transaction; its answer is recorded by a
compare-and-set on the order's status. A definite rejection refunds in the same
transaction that marks the order failed; an unclear answer keeps the debit and puts the
order in the review queue: ``add`` is never sent twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import date, timedelta

from fulfillment.models import (
    AddRequest,
    ItemError,
    OrderStatus,
    PanelRejected,
    PanelUnavailable,
    ServiceType,
)
from shop import money, notices
from shop import statuses as st
from shop.catalog import CatalogService
from shop.clock import parse_iso
from shop.context import ShopContext, new_token
from shop.crashpoints import crashpoint
from shop.fulfilment import FulfilmentService
from shop.models import (
    Order,
    OrderInput,
    PlaceOutcome,
    PlaceResult,
    Quote,
    Service,
)
from shop.parsing import InputError
from shop.refunds import refund_failed_order
from storage import ledger, orders, quotes, users
from storage.db import StorageError
from storage.errors import (
    DuplicateActiveJob,
    DuplicateConfirmation,
    DuplicatePanelOrder,
    InsufficientBalance,
)
from storage.ledger import Posting
from storage.rows import Row

log = logging.getLogger(__name__)

MAX_RUNS = 100
LIVE_CHECK_SECONDS = 2.5  # a customer's cancel waits this long for the panel's live status
MAX_POSTS = 1000
DRIPFEED_INTERVALS = (5, 10, 15, 30, 60, 90, 120, 180, 360, 720, 1440)


class CustomerBlocked(Exception):
    """The owner blocked this customer after their confirmation card was shown."""


@dataclasses.dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    code: str  # a message key for the handlers
    order: Order | None = None


def _units(service: Service, inp: OrderInput, *, limits: bool = True) -> int:
    """Validate the inputs for the service's type and return the units priced.

    ``limits=False`` skips the panel's min/max: a confirmation card keeps the terms it was
    quoted with even if the panel changed its limits since (the panel may then refuse the
    order, which refunds it in full)."""
    t = service.type
    if t == ServiceType.SUBSCRIPTIONS:
        return _subscription_units(service, inp, limits)
    if not inp.link:
        raise InputError("link.empty")
    if t == ServiceType.PACKAGE:
        return 1
    if t == ServiceType.CUSTOM_COMMENTS:
        n = len(inp.comments)
        if n < 1 or (limits and (n < service.min or n > service.max)):
            raise InputError("comments.count", {"min": service.min, "max": service.max, "count": n})
        return n
    if t != ServiceType.DEFAULT:
        raise InputError("service.unavailable")
    q = inp.quantity or 0
    if q < 1 or (limits and (q < service.min or q > service.max)):
        raise InputError("input.out_of_range", {"min": service.min, "max": service.max})
    if inp.runs is None:
        return q
    if not service.dripfeed:
        raise InputError("dripfeed.unsupported")
    if inp.runs < 2 or inp.runs > MAX_RUNS or inp.interval not in DRIPFEED_INTERVALS:
        raise InputError("dripfeed.invalid", {"max_runs": MAX_RUNS})
    if limits and q * inp.runs > service.max:
        raise InputError("dripfeed.total", {"max": service.max})
    return q * inp.runs


def _subscription_units(service: Service, inp: OrderInput, limits: bool = True) -> int:
    if not inp.username:
        raise InputError("username.empty")
    lo, hi = inp.sub_min or 0, inp.sub_max or 0
    if lo < 1 or (limits and (lo < service.min or hi > service.max)):
        raise InputError("input.out_of_range", {"min": service.min, "max": service.max})
    if hi < lo:
        raise InputError("sub.max_below_min", {"min": lo})
    posts = inp.sub_posts or 0
    if posts < 1 or posts > MAX_POSTS:
        raise InputError("input.out_of_range", {"min": 1, "max": MAX_POSTS})
    return hi * posts


def _job_key(service: Service, inp: OrderInput) -> str:
    if service.type == ServiceType.SUBSCRIPTIONS:
        return f"@{inp.username}"
    return inp.link or ""


def _price(per_1000: int, service: Service, units: int) -> int:
    # Package types are a flat price per order (the panel charges its rate once).
    if service.type == ServiceType.PACKAGE:
        return per_1000
    return money.order_price(per_1000, units)


def _input_from_json(text: str) -> OrderInput:
    raw = json.loads(text)
    raw["comments"] = tuple(raw.get("comments") or ())
    return OrderInput(**raw)


def _expiry_for_panel(iso_day: str | None) -> str | None:
    # Panels take d/m/Y (provider-api.md §5).
    return None if not iso_day else date.fromisoformat(iso_day).strftime("%d/%m/%Y")


def add_request(service: Service, row: Row) -> AddRequest:
    """The panel call for a stored order, with only the fields its type takes."""
    comments = tuple(json.loads(row["comments"])) if row["comments"] else ()
    return AddRequest(
        service_id=service.panel_id, type=service.type, link=row["link"],
        quantity=None if service.type != ServiceType.DEFAULT else
        (row["quantity"] // (row["runs"] or 1)),
        runs=row["runs"], interval=row["interval"], comments=comments,
        username=row["username"], min=row["sub_min"], max=row["sub_max"],
        posts=row["sub_posts"], delay=row["sub_delay"],
        expiry=_expiry_for_panel(row["sub_expiry"]),
    )  # fmt: skip


class OrderService:
    def __init__(
        self,
        ctx: ShopContext,
        catalog: CatalogService,
        fulfilment: FulfilmentService | None = None,
    ) -> None:
        self.ctx = ctx
        self.catalog = catalog
        self._background: set[asyncio.Task[PlaceResult]] = set()
        self.fulfilment = fulfilment or FulfilmentService(ctx)

    # ---- quoting -------------------------------------------------------------------

    async def quote(self, user_id: int, service_id: int, inp: OrderInput) -> Quote:
        """Validate and price an order; the card's token is what ``place`` takes.

        Raises InputError (with a message key) for anything the customer must fix.
        """
        service = await self.catalog.get(service_id)
        if service is None or not service.sellable:
            raise InputError("service.unavailable")
        if inp.sub_expiry and date.fromisoformat(inp.sub_expiry) <= self.ctx.now().date():
            raise InputError("sub.expiry_past")
        units = _units(service, inp)
        per_1000 = self.catalog.price_per_1000(service)
        price = _price(per_1000, service, units)
        token = new_token()
        ttl = timedelta(minutes=self.ctx.settings.quote_ttl_minutes)
        expires = self.ctx.now_iso(seconds=ttl.total_seconds())
        user = await users.get(self.ctx.db.reader, user_id)
        if user is None:
            raise LookupError(user_id)
        if user["banned_at"] is not None:  # the owner blocked this customer
            raise InputError("customer.blocked")
        async with self.ctx.db.transaction() as conn:
            await quotes.insert(
                conn, token, user_id, service.id, json.dumps(dataclasses.asdict(inp)), price,
                per_1000, str(service.rate), self.ctx.now_iso(), expires,
            )  # fmt: skip
        return Quote(token, service, inp, units, price, per_1000, user["balance"], expires)

    async def get_quote(self, user_id: int, token: str) -> Quote | None:
        row = await quotes.get(self.ctx.db.reader, token)
        if row is None or row["user_id"] != user_id:
            return None
        service = await self.catalog.get(row["service_id"])
        user = await users.get(self.ctx.db.reader, user_id)
        if service is None or user is None:
            return None
        inp = _input_from_json(row["params"])
        try:  # the card's own terms, whatever the panel's limits are now
            units = _units(service, inp, limits=False) if service.sellable else 0
        except InputError:  # the service changed type: the card cannot be used any more
            units = 0
        return Quote(
            token, service, inp, units, row["price"], row["price_per_1000"], user["balance"],
            row["expires_at"],
        )  # fmt: skip

    # ---- placing -------------------------------------------------------------------

    async def place(
        self, user_id: int, token: str, *, submit_within: float | None = None
    ) -> PlaceResult:
        """Confirm a quote: debit and create the order, then submit it to the panel.

        ``submit_within``: a front with a hard answer deadline (KakaoTalk's 5 s) waits at
        most this long for the panel. If the panel has not answered by then, the answer is
        ACCEPTED (the order exists and is paid for) and the submit finishes after it; its
        result reaches the customer as news (an ``order_placed`` notice, or the failure and
        review notices every submit writes). The order is ``created`` until the submit
        claims it, so a crash in between is submitted by start-up recovery.
        """
        conn = self.ctx.db.reader
        q = await quotes.get_with_order(conn, token)  # one read for both questions
        if q is None or q["user_id"] != user_id:
            return PlaceResult(PlaceOutcome.NOT_FOUND)
        if q["order_id"] is not None:  # this card was confirmed already: the same order
            existing = await orders.get(conn, q["order_id"])
            assert existing is not None
            return self._replayed(user_id, existing)
        if q["expires_at"] < self.ctx.now_iso():
            return PlaceResult(PlaceOutcome.EXPIRED)
        service = await self.catalog.get(q["service_id"])
        if service is None or not service.sellable:
            return PlaceResult(PlaceOutcome.UNAVAILABLE)
        inp = _input_from_json(q["params"])
        try:  # the price shown is the price charged: the card's terms, not today's limits
            units = _units(service, inp, limits=False)
        except InputError:  # the service changed type since the card: it cannot be used
            return PlaceResult(PlaceOutcome.UNAVAILABLE)
        try:
            order_id = await self._create(user_id, service, inp, q, units)
        except InsufficientBalance:
            user = await users.get(self.ctx.db.reader, user_id)
            missing = q["price"] - (user["balance"] if user else 0)
            return PlaceResult(PlaceOutcome.INSUFFICIENT, missing=max(missing, 1))
        except CustomerBlocked:
            return PlaceResult(PlaceOutcome.BLOCKED)
        except DuplicateActiveJob:
            # Either another job on the same link, or this very token confirmed twice.
            row = await orders.get_by_token(self.ctx.db.reader, token)
            if row is not None:
                return self._replayed(user_id, row)
            return PlaceResult(PlaceOutcome.DUPLICATE_JOB)
        except DuplicateConfirmation as exc:
            # The same token confirmed concurrently: the other call created the order.
            row = await orders.get_by_token(self.ctx.db.reader, token)
            if row is None:
                raise
            log.info("double confirm of %s absorbed: %s", token, exc)
            return self._replayed(user_id, row)
        crashpoint("after_debit_commit")
        if submit_within is None:
            return await self.submit(order_id, service)
        return await self._submit_within(order_id, service, submit_within)

    async def _submit_within(self, order_id: int, service: Service, seconds: float) -> PlaceResult:
        late = False

        async def run() -> PlaceResult:
            result = await self.submit(order_id, service)
            if late and result.outcome == PlaceOutcome.PLACED:
                await self._tell_placed(result.order)
            return result

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background_done)
        done, _ = await asyncio.wait({task}, timeout=max(0.0, seconds))
        if task in done:
            return task.result()
        late = True  # set before the task can run again: it reports its own result now
        row = await orders.get(self.ctx.db.reader, order_id)
        assert row is not None
        return PlaceResult(PlaceOutcome.ACCEPTED, Order.from_row(row))

    def _background_done(self, task: asyncio.Task[PlaceResult]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("deferred submit failed", exc_info=task.exception())

    async def _tell_placed(self, order: Order | None) -> None:
        if order is None:
            return
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            user = await users.get(conn, order.user_id)
            await notices.to_user(
                conn, user_row=user, key=f"order:{order.id}:placed", event="order_placed",
                payload={"order_id": order.id}, now=now,
            )  # fmt: skip

    async def wait_background(self, timeout: float) -> None:  # noqa: ASYNC109
        """At shutdown: let deferred submits finish (a cut one is reviewed at start-up)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    def _replayed(self, user_id: int, row: Row) -> PlaceResult:
        if row["user_id"] != user_id:
            return PlaceResult(PlaceOutcome.NOT_FOUND)
        return PlaceResult(PlaceOutcome.REPLAYED, Order.from_row(row))

    async def _create(
        self, user_id: int, service: Service, inp: OrderInput, q: Row, units: int | None = None
    ) -> int:
        if units is None:
            units = _units(service, inp, limits=False)
        now = self.ctx.now_iso()
        kind = "subscription" if service.type == ServiceType.SUBSCRIPTIONS else "order"
        async with self.ctx.db.transaction() as conn:
            # Checked inside the debit's transaction: a block made after the card was shown
            # (the console) holds at the moment of payment.
            user = await users.get(conn, user_id)
            if user is None or user["banned_at"] is not None:
                raise CustomerBlocked(user_id)
            order_id = await orders.insert(
                conn,
                {
                    "user_id": user_id, "service_id": service.id, "confirm_token": q["token"],
                    "kind": kind, "link": inp.link, "job_key": _job_key(service, inp),
                    "quantity": units, "runs": inp.runs, "interval": inp.interval,
                    "comments": json.dumps(inp.comments, ensure_ascii=False)
                    if inp.comments else None,
                    "username": inp.username, "sub_min": inp.sub_min, "sub_max": inp.sub_max,
                    "sub_posts": inp.sub_posts, "sub_delay": inp.sub_delay,
                    "sub_expiry": inp.sub_expiry, "price": q["price"],
                    "price_per_1000": q["price_per_1000"], "rate": q["rate"],
                    "exchange_rate": str(self.ctx.settings.exchange_rate),
                    "status": st.CREATED, "created_at": now, "updated_at": now,
                    "service_type": service.type.value, "package_qty": service.package_qty,
                },
            )  # fmt: skip
            await ledger.post(
                conn,
                Posting(user_id, -q["price"], "order", f"order:{order_id}:debit", order_id),
                now,
            )
            # FAQ terms 1: ordering means accepting the terms.
            await users.set_terms_accepted(conn, user_id, now)
        return order_id

    async def submit(self, order_id: int, service: Service | None = None) -> PlaceResult:
        """Send a ``created`` order to the panel, exactly once."""
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            row = await orders.update_returning(
                conn, order_id, st.CREATED, {"status": st.SUBMITTING, "updated_at": now}
            )
        if row is None:  # not ``created`` (any more): someone else submitted it
            current = await orders.get(self.ctx.db.reader, order_id)
            if current is None:
                raise LookupError(order_id)
            return PlaceResult(PlaceOutcome.REPLAYED, Order.from_row(current))
        if service is None or service.id != row["service_id"]:
            service = await self.catalog.get(row["service_id"])
        assert service is not None
        crashpoint("after_claim")
        try:
            panel_id = await self.ctx.panel.add(add_request(service, row))
        except PanelRejected as exc:
            return await self._fail(row, exc.message, funds=exc.is_funds)
        except PanelUnavailable as exc:
            if not exc.request_sent:
                # The request never left (connection refused): nothing can exist upstream.
                return await self._fail(row, f"panel unreachable: {exc}", funds=False)
            return await self._to_review(order_id, f"no clear answer to add: {exc}")
        crashpoint("after_panel_answer")
        try:
            return await self._record_panel_id(order_id, panel_id)
        except StorageError:
            # The order exists upstream but the database refused the write (full disk,
            # locked): the row stays `submitting`, recovery sends it to review, and this
            # line is the only place the panel id survives for the admin to attach.
            log.error("order %s: panel order %s created but not recorded", order_id, panel_id)
            raise

    async def _record_panel_id(self, order_id: int, panel_id: str) -> PlaceResult:
        now = self.ctx.now_iso()
        try:
            async with self.ctx.db.transaction() as conn:
                row = await orders.update_returning(
                    conn, order_id, st.SUBMITTING,
                    {"status": st.PENDING, "panel_order_id": panel_id, "submitted_at": now,
                     "updated_at": now, "next_poll_at": now, "progress_at": now},
                )  # fmt: skip
        except DuplicatePanelOrder:
            # The panel handed out an id we already hold: a human must look.
            return await self._to_review(order_id, f"panel returned a duplicate id {panel_id}")
        if row is None:
            log.warning("order %s changed while submitting; panel id %s", order_id, panel_id)
            row = await orders.get(self.ctx.db.reader, order_id)
            assert row is not None
        return PlaceResult(PlaceOutcome.PLACED, Order.from_row(row))

    async def _fail(self, row: Row, reason: str, *, funds: bool) -> PlaceResult:
        order_id = row["id"]
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            ok = await orders.update(
                conn, order_id, st.SUBMITTING,
                {"status": st.FAILED, "error": reason[:500], "refunded": row["price"],
                 "finished_at": now, "updated_at": now},
            )  # fmt: skip
            if ok:
                await refund_failed_order(conn, row, note="panel rejected the order", now=now)
                if funds:
                    await notices.to_admins(
                        conn, self.ctx.settings, key="panel:funds:" + now[:13],
                        event="admin_panel_funds", payload={"order_id": order_id}, now=now,
                    )  # fmt: skip
            final = await orders.get(conn, order_id)
        assert final is not None
        return PlaceResult(PlaceOutcome.FAILED, Order.from_row(final), error=reason)

    async def _to_review(self, order_id: int, reason: str) -> PlaceResult:
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            ok = await orders.update(
                conn, order_id, (st.SUBMITTING, st.CREATED),
                {"status": st.NEEDS_REVIEW, "error": reason[:500], "updated_at": now},
            )  # fmt: skip
            row = await orders.get(conn, order_id)
            assert row is not None
            if ok:
                await notices.order_review(conn, self.ctx.settings, row, reason, now)
        return PlaceResult(PlaceOutcome.NEEDS_REVIEW, Order.from_row(row))

    # ---- reading -------------------------------------------------------------------

    async def history(self, user_id: int, page: int, per_page: int = 5) -> tuple[list[Order], int]:
        conn = self.ctx.db.reader
        rows = await orders.list_for_user(conn, user_id, per_page, page * per_page)
        return [Order.from_row(r) for r in rows], await orders.count_for_user(conn, user_id)

    async def get_for_user(self, user_id: int, order_id: int) -> Order | None:
        """None unless the order is the customer's own (forged ids reveal nothing)."""
        row = await orders.get(self.ctx.db.reader, order_id)
        if row is None or row["user_id"] != user_id:
            return None
        service = await self.catalog.get(row["service_id"])
        order = Order.from_row(row)
        return dataclasses.replace(order, service_name=service.name if service else None)

    # ---- customer actions ------------------------------------------------------------

    def can_cancel(self, order: Order, service: Service) -> bool:
        if order.status not in st.QUEUED or order.cancel_requested:
            return False
        return service.cancel or self._late(order)

    def can_refill(self, order: Order, service: Service) -> bool:
        if not service.refill or order.status != st.COMPLETED or order.finished_at is None:
            return False
        if order.refill_status in ("pending", "in_progress"):
            return False
        age = self.ctx.now() - parse_iso(order.finished_at)
        return age <= timedelta(days=self.ctx.settings.refill_days)

    def _late(self, order: Order) -> bool:
        if order.submitted_at is None:
            return False
        age = self.ctx.now() - parse_iso(order.submitted_at)
        return age >= timedelta(hours=self.ctx.settings.not_started_alert_hours)

    async def check_live(self, order: Order) -> tuple[Order, bool]:
        """The order as the panel sees it right now, its answer applied like a poll's:
        (fresh order, True), or (the stored order, False) when the panel cannot say within
        LIVE_CHECK_SECONDS (a customer is waiting; a Kakao answer has 5 s in all)."""
        if order.panel_order_id is None or order.status not in st.POLLED:
            return order, True
        answer: OrderStatus | ItemError
        try:
            answer = await asyncio.wait_for(
                self.ctx.panel.status(order.panel_order_id), LIVE_CHECK_SECONDS
            )
        except PanelRejected as exc:  # e.g. "Incorrect order ID": counts like a poll's
            answer = ItemError(exc.message)
        except (PanelUnavailable, TimeoutError) as exc:
            log.info("live status of order %s unavailable: %r", order.id, exc)
            return order, False
        await self.fulfilment.apply(order.id, answer)
        fresh = await self.get_for_user(order.user_id, order.id)
        return (fresh or order), not isinstance(answer, ItemError)

    async def cancel_offered(self, order: Order, service: Service) -> bool:
        """Whether to show the cancel button: the stored status may be a poll old, so an
        order that looks queued is checked at the panel first (FAQ 4: once started, no
        cancel). If the panel cannot say, the button is shown: pressing it checks again."""
        if not self.can_cancel(order, service):
            return False
        fresh, known = await self.check_live(order)
        return self.can_cancel(fresh, service) or not known

    async def request_cancel(self, user_id: int, order_id: int) -> ActionResult:
        """FAQ 3/4: only before delivery starts, as the panel shows it right now. A cancel
        is a request: money moves when the panel's status says what was not delivered."""
        order = await self.get_for_user(user_id, order_id)
        if order is None:
            return ActionResult(False, "order.not_found")
        service = await self.catalog.get(order.service_id)
        if service is None or not self.can_cancel(order, service):
            return ActionResult(False, "cancel.not_allowed", order)
        order, known = await self.check_live(order)
        if not known:
            return ActionResult(False, "cancel.failed", order)
        if not self.can_cancel(order, service):  # started (or ended) since the last poll
            return ActionResult(False, "cancel.not_allowed", order)
        now = self.ctx.now_iso()
        if service.cancel:
            try:
                result = await self.ctx.panel.cancel([order.panel_order_id or ""])
            except (PanelRejected, PanelUnavailable) as exc:
                log.warning("cancel of order %s failed: %s", order_id, exc)
                return ActionResult(False, "cancel.failed", order)
            if result.get(order.panel_order_id or "") is not True:
                return ActionResult(False, "cancel.refused", order)
        async with self.ctx.db.transaction() as conn:
            await orders.update(
                conn, order_id, st.QUEUED, {"cancel_requested_at": now, "updated_at": now}
            )
            if not service.cancel:
                # The panel cannot cancel it by API: the admins take it from here.
                await notices.to_admins(
                    conn, self.ctx.settings, key=f"order:{order_id}:cancel_request",
                    event="admin_cancel_request",
                    payload={"order_id": order_id, "user_id": user_id,
                             "panel_order_id": order.panel_order_id},
                    now=now,
                )  # fmt: skip
        return ActionResult(True, "cancel.requested" if service.cancel else "cancel.forwarded",
                            order)  # fmt: skip

    async def request_refill(self, user_id: int, order_id: int) -> ActionResult:
        order = await self.get_for_user(user_id, order_id)
        if order is None:
            return ActionResult(False, "order.not_found")
        service = await self.catalog.get(order.service_id)
        if service is None or not self.can_refill(order, service):
            return ActionResult(False, "refill.not_allowed", order)
        try:
            refill_id = await self.ctx.panel.refill(order.panel_order_id or "")
        except PanelRejected as exc:
            log.info("refill of order %s refused: %s", order_id, exc.message)
            return ActionResult(False, "refill.refused", order)
        except PanelUnavailable as exc:
            log.warning("refill of order %s failed: %s", order_id, exc)
            return ActionResult(False, "refill.failed", order)
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            await orders.update(
                conn, order_id, st.COMPLETED,
                {"refill_id": refill_id, "refill_status": "pending",
                 "refill_requested_at": now, "updated_at": now},
            )  # fmt: skip
            user = await users.get(conn, user_id)
            await notices.to_user(
                conn, user_row=user, key=f"order:{order_id}:refill:{refill_id}:accepted",
                event="refill_accepted", payload={"order_id": order_id}, now=now,
            )  # fmt: skip
        return ActionResult(True, "refill.requested", order)

    # ---- recovery ------------------------------------------------------------------

    async def recover(self) -> dict[str, int]:
        """At start-up: submit what was debited but never sent; review what may have been.

        ``created``: the debit committed but the panel was never called → submit now.
        ``submitting``: the call may have reached the panel → never resend; review.
        """
        conn = self.ctx.db.reader
        in_flight = await orders.with_status(conn, (st.SUBMITTING,))
        for row in in_flight:
            await self._to_review(row["id"], "interrupted while submitting to the panel")
        created = await orders.with_status(conn, (st.CREATED,))
        for row in created:
            await self.submit(row["id"])
        if in_flight or created:
            log.warning("recovery: %d resubmitted, %d to review", len(created), len(in_flight))
        return {"submitted": len(created), "review": len(in_flight)}
