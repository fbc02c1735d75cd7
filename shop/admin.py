"""Admin use-cases: review queue, balance adjustments, broadcasts, stats, services.

Every method takes the acting admin's Telegram id and refuses anyone not in
``settings.admin_ids`` at execution time, whatever the front end already checked.
Money moves only through compare-and-set plus a ledger row with a unique key, so a
second press changes nothing; every action writes an audit row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from fulfillment.models import PanelError
from shop import figures, notices
from shop import statuses as st
from shop.catalog import CatalogService, SyncReport
from shop.context import ShopContext
from shop.models import Order, Service, User
from shop.orders import ActionResult, OrderService
from shop.parsing import InputError, parse_int
from shop.refunds import refund_failed_order
from shop.topups import Decision
from storage import admin_queries, audit, ledger, orders, outbox, services, users
from storage.errors import DuplicatePanelOrder, InsufficientBalance
from storage.ledger import Posting

log = logging.getLogger(__name__)

MAX_REASON = 300
MAX_ADJUST = 10_000_000
MAX_PRICE = 100_000_000
MAX_MARKUP = 1000
# An order being submitted right now is left to its panel answer; anything else that has
# not finished can be refunded or re-attached by an admin.
REFUNDABLE = (st.CREATED, st.PENDING, st.PROCESSING, st.IN_PROGRESS, st.NEEDS_REVIEW)
ATTACHABLE = (st.PENDING, st.PROCESSING, st.IN_PROGRESS, st.NEEDS_REVIEW)


@dataclass(frozen=True, slots=True)
class AdminResult:
    decision: Decision
    order: Order | None = None
    balance: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Period:
    orders: int
    revenue: int  # charged − refunded
    refunds: int
    margin: int  # profit: revenue − panel cost in 원 (shop/figures.py)
    new_customers: int


@dataclass(frozen=True, slots=True)
class Stats:
    customers: int
    periods: dict[str, Period] = field(default_factory=dict)  # "today", "7d", "30d"


def parse_adjustment(text: str | None) -> int:
    """A signed whole amount of 원 for a balance adjustment: "+5,000", "-3000", "−1 000"."""
    raw = (text or "").strip().replace(" ", "")
    sign = -1 if raw.startswith(("-", "−")) else 1
    return sign * parse_int(raw.lstrip("+-−"), lo=1, hi=MAX_ADJUST)


def parse_price_override(text: str | None) -> int | None:
    """A per-service price per 1000 in 원; "0", "해제" or nothing clears it (None)."""
    raw = (text or "").strip()
    if raw in ("", "0", "해제"):
        return None
    return parse_int(raw, lo=1, hi=MAX_PRICE)


def parse_markup(text: str | None) -> Decimal:
    """The global markup in percent, 0–1000 ("50", "50%", "12.5")."""
    raw = (text or "").strip().rstrip("%").strip()
    try:
        percent = Decimal(raw)
    except InvalidOperation:
        raise InputError("admin.bad_markup") from None
    if not percent.is_finite() or percent < 0 or percent > MAX_MARKUP:
        raise InputError("admin.bad_markup")
    return percent


def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < 2:  # "." or "-" is not a reason
        raise InputError("admin.reason_required")
    return text[:MAX_REASON]


class AdminService:
    def __init__(
        self, ctx: ShopContext, catalog: CatalogService, orders: OrderService | None = None
    ) -> None:
        self.ctx = ctx
        self.catalog = catalog
        self.orders = orders

    def allowed(self, admin_id: int, action: str) -> bool:
        if admin_id in self.ctx.settings.admin_ids:
            return True
        log.warning("non-admin %s attempted %s", admin_id, action)
        return False

    # ---- review queue --------------------------------------------------------------

    async def review_queue(self, admin_id: int) -> list[Order]:
        if not self.allowed(admin_id, "review_queue"):
            return []
        return [Order.from_row(r) for r in await admin_queries.needs_review(self.ctx.db.reader)]

    async def refund_review(self, admin_id: int, order_id: int) -> AdminResult:
        """needs_review → failed with a full refund, at most once."""
        return await self.refund_order(
            admin_id, order_id, "refund after review", statuses=(st.NEEDS_REVIEW,)
        )

    async def refund_order(
        self,
        admin_id: int,
        order_id: int,
        reason: str,
        amount: int | None = None,
        *,
        statuses: tuple[str, ...] = REFUNDABLE,
    ) -> AdminResult:
        """Refund any unfinished order by hand (the panel forgot it, it is stuck, the
        customer and the admin agreed…), at most once, the reason in the audit log.

        ``amount`` None refunds the whole price (the order ends ``failed``, costs 0); a
        smaller amount ends it ``partial``, the rest kept for what was delivered. An order
        being submitted right now is refused: its panel answer decides it.
        """
        if not self.allowed(admin_id, f"refund order {order_id}"):
            return AdminResult(Decision.FORBIDDEN)
        reason = check_reason(reason)
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            row = await orders.get(conn, order_id)
            if row is None:
                return AdminResult(Decision.NOT_FOUND)
            price = row["price"]
            refund = price if amount is None else amount
            if not 0 < refund <= price:
                raise InputError("admin.refund_range", {"max": price})
            target = st.FAILED if refund == price else st.PARTIAL
            ok = await orders.update(
                conn, order_id, statuses,
                {"status": target, "refunded": refund, "finished_at": now, "updated_at": now,
                 "next_poll_at": None, "error": f"refunded by admin: {reason}"},
            )  # fmt: skip
            if not ok:
                return AdminResult(Decision.ALREADY, Order.from_row(row))
            if target == st.FAILED:
                # Same key as an automatic refund: the two can never both happen.
                user = await refund_failed_order(
                    conn, row, note=f"refund by admin: {reason}", now=now, actor=admin_id
                )
            else:
                await ledger.post(
                    conn,
                    Posting(row["user_id"], refund, "refund", f"order:{order_id}:refund",
                            order_id, note=f"refund by admin: {reason}", actor=admin_id),
                    now,
                )  # fmt: skip
                user = await users.get(conn, row["user_id"])
                await notices.to_user(
                    conn, user_row=user, key=f"order:{order_id}:partial", event="order_partial",
                    payload={"order_id": order_id, "delivered": None,
                             "quantity": row["quantity"], "refund": refund,
                             "balance": user["balance"]},
                    now=now,
                )  # fmt: skip
            await audit.record(
                conn, actor_id=admin_id, action="order.refund", target=f"order:{order_id}",
                before={"status": row["status"], "refunded": row["refunded"],
                        "panel_order_id": row["panel_order_id"]},
                after={"status": target, "refunded": refund, "reason": reason}, now=now,
            )  # fmt: skip
            final = await orders.get(conn, order_id)
        return AdminResult(Decision.DONE, Order.from_row(final), user["balance"])

    async def attach_panel_order(
        self, admin_id: int, order_id: int, panel_order_id: str, reason: str | None = None
    ) -> AdminResult:
        """The admin found the order at the panel (or a new one placed there by hand): any
        unfinished order is pointed at that panel id and polled again from ``pending``."""
        if not self.allowed(admin_id, f"attach panel id to order {order_id}"):
            return AdminResult(Decision.FORBIDDEN)
        reason = check_reason(reason or "panel order id attached by an admin")
        panel_order_id = panel_order_id.strip()
        if not panel_order_id.isdigit() or len(panel_order_id) > 20:
            raise InputError("admin.bad_panel_id")
        row = await orders.get(self.ctx.db.reader, order_id)
        if row is None:
            return AdminResult(Decision.NOT_FOUND)
        if row["status"] not in ATTACHABLE:
            return AdminResult(Decision.ALREADY, Order.from_row(row))
        try:  # outside any transaction: panel calls never hold the writer
            await self.ctx.panel.status(panel_order_id)
        except PanelError as exc:
            return AdminResult(Decision.NOT_FOUND, Order.from_row(row), error=str(exc)[:200])
        now = self.ctx.now_iso()
        try:
            async with self.ctx.db.transaction() as conn:
                ok = await orders.update(
                    conn, order_id, row["status"],  # unchanged since it was read
                    {"status": st.PENDING, "panel_order_id": panel_order_id, "error": None,
                     "submitted_at": row["submitted_at"] or now, "updated_at": now,
                     "next_poll_at": now, "poll_failures": 0, "blocked_since": None,
                     "progress_at": now, "charge_seen": None},
                )  # fmt: skip
                if ok:
                    await audit.record(
                        conn, actor_id=admin_id, action="order.attach_panel_id",
                        target=f"order:{order_id}",
                        before={"status": row["status"], "panel_order_id": row["panel_order_id"]},
                        after={"status": st.PENDING, "panel_order_id": panel_order_id,
                               "reason": reason},
                        now=now,
                    )  # fmt: skip
                final = await orders.get(conn, order_id)
        except DuplicatePanelOrder:
            return AdminResult(Decision.ALREADY, Order.from_row(row), error="duplicate panel id")
        return AdminResult(Decision.DONE if ok else Decision.ALREADY, Order.from_row(final))

    # ---- customers -----------------------------------------------------------------

    async def recent_orders(self, admin_id: int, user_id: int, limit: int = 5) -> list[Order]:
        if not self.allowed(admin_id, "lookup"):
            return []
        rows = await admin_queries.recent_orders(self.ctx.db.reader, user_id, limit)
        return [Order.from_row(r) for r in rows]

    async def adjust_balance(
        self, admin_id: int, user_id: int, amount: int, reason: str, idem: str
    ) -> AdminResult:
        """+/− a customer's balance; ``idem`` is unique per confirmation card."""
        if not self.allowed(admin_id, f"adjust user {user_id}"):
            return AdminResult(Decision.FORBIDDEN)
        reason = check_reason(reason)
        if amount == 0:
            raise InputError("input.not_positive")
        now = self.ctx.now_iso()
        try:
            async with self.ctx.db.transaction() as conn:
                before = await users.get(conn, user_id)
                if before is None:
                    return AdminResult(Decision.NOT_FOUND)
                posted = await ledger.post(
                    conn,
                    Posting(user_id, amount, "adjustment", f"adjust:{idem}",
                            note=reason, actor=admin_id),
                    now,
                )  # fmt: skip
                after = await users.get(conn, user_id)
                if posted:
                    await audit.record(
                        conn, actor_id=admin_id, action="balance.adjust", target=f"user:{user_id}",
                        before={"balance": before["balance"]},
                        after={"balance": after["balance"], "amount": amount, "reason": reason},
                        now=now,
                    )  # fmt: skip
        except InsufficientBalance:
            raise InputError("admin.would_overdraw", {"balance": before["balance"]}) from None
        decision = Decision.DONE if posted else Decision.ALREADY
        return AdminResult(decision, balance=after["balance"])

    # ---- broadcast -----------------------------------------------------------------

    async def broadcast(self, admin_id: int, broadcast_id: str, text_html: str) -> int:
        """One outbox row per reachable customer; returns how many were queued."""
        if not self.allowed(admin_id, "broadcast"):
            return 0
        now = self.ctx.now_iso()
        queued = 0
        async with self.ctx.db.transaction() as conn:
            for u in await users.list_reachable(conn):
                queued += await notices.to_user(
                    conn, user_row=u, key=f"broadcast:{broadcast_id}:{u['id']}",
                    event="broadcast", payload={"text": text_html}, now=now,
                )  # fmt: skip
            await audit.record(
                conn, actor_id=admin_id, action="broadcast", target=f"broadcast:{broadcast_id}",
                before=None, after={"queued": queued, "text": text_html}, now=now,
            )  # fmt: skip
        return queued

    async def broadcast_progress(self, broadcast_id: str) -> dict[str, int]:
        return await outbox.counts(self.ctx.db.reader, f"broadcast:{broadcast_id}:")

    # ---- stats ---------------------------------------------------------------------

    async def stats(self, admin_id: int) -> Stats | None:
        if not self.allowed(admin_id, "stats"):
            return None
        report = await figures.by_day(self.ctx)
        periods = {
            name: Period(f.orders, f.revenue, f.refunds, f.profit, f.new_customers)
            for name, f in report.periods.items()
        }
        return Stats(await admin_queries.customers(self.ctx.db.reader), periods)

    async def panel_balance(self) -> str | None:
        try:
            bal = await self.ctx.panel.balance()
        except PanelError as exc:
            log.info("panel balance unavailable: %s", exc)
            return None
        return f"{bal.amount} {bal.currency or ''}".strip()

    # ---- services ------------------------------------------------------------------

    async def find_services(self, admin_id: int, query: str = "") -> list[Service]:
        """The services list, or a search in it: ``#12`` is the shop's service 12; a bare
        number is the shop's or the panel's id (then words, if neither); words must all
        appear in the name or category, in any case. Removed services are left out."""
        if not self.allowed(admin_id, "services"):
            return []
        listed = [s for s in await self.catalog.all() if not s.removed]
        q = query.strip()
        if not q:
            return listed
        number = q.removeprefix("#").strip()
        if number.isdigit():
            hits = [s for s in listed if str(s.id) == number]
            if not q.startswith("#"):
                hits += [s for s in listed if s.panel_id == number and s not in hits]
            if hits or q.startswith("#"):
                return hits
        words = q.casefold().split()
        return [s for s in listed if all(w in f"{s.name}\n{s.category}".casefold() for w in words)]

    async def set_visible(self, admin_id: int, service_id: int, visible: bool) -> bool:
        if not self.allowed(admin_id, f"service {service_id} visibility"):
            return False
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            ok = await services.set_visible(conn, service_id, visible)
            if ok:
                await audit.record(
                    conn, actor_id=admin_id, action="service.visible",
                    target=f"service:{service_id}", before={"visible": not visible},
                    after={"visible": visible}, now=now,
                )  # fmt: skip
        self.catalog.forget()
        return ok

    async def set_price_override(
        self, admin_id: int, service_id: int, price_per_1000: int | None
    ) -> bool:
        if not self.allowed(admin_id, f"service {service_id} price"):
            return False
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            old = await services.get(conn, service_id)
            ok = old is not None and await services.set_price_override(
                conn, service_id, price_per_1000
            )
            if ok:
                await audit.record(
                    conn, actor_id=admin_id, action="service.price",
                    target=f"service:{service_id}",
                    before={"price_override": old["price_override"]},
                    after={"price_override": price_per_1000}, now=now,
                )  # fmt: skip
        self.catalog.forget()
        return ok

    async def set_markup(self, admin_id: int, catalog: CatalogService, percent: Decimal) -> bool:
        """Global markup over panel rates; quotes already shown keep their price."""
        if not self.allowed(admin_id, "global markup"):
            return False
        async with self.ctx.db.transaction() as conn:
            old = await catalog.store_markup(conn, percent)
            await audit.record(
                conn, actor_id=admin_id, action="shop.markup", target="markup_percent",
                before={"markup_percent": str(old)}, after={"markup_percent": str(percent)},
                now=self.ctx.now_iso(),
            )  # fmt: skip
        await catalog.load_overrides()
        return True

    async def record(self, admin_id: int, action: str, target: str | None, after: object) -> None:
        """An audit row for actions whose effect lives elsewhere (catalog sync…)."""
        async with self.ctx.db.transaction() as conn:
            await audit.record(
                conn, actor_id=admin_id, action=action, target=target, before=None,
                after=after, now=self.ctx.now_iso(),
            )  # fmt: skip

    async def sync_catalog(self, admin_id: int) -> SyncReport | None:
        """Sync now (the panel call happens outside any transaction), then audit it."""
        if not self.allowed(admin_id, "catalog sync"):
            return None
        report = await self.catalog.sync()
        await self.record(
            admin_id, "catalog.sync", None,
            {"new": report.new, "updated": report.updated, "removed": report.removed},
        )  # fmt: skip
        return report

    # ---- customers: block, cancel and refill on their behalf ---------------------------

    async def set_banned(self, admin_id: int, user_id: int, banned: bool, reason: str) -> bool:
        """Block a customer from ordering and topping up (or lift it); audited with a reason.
        False when nothing changed (already so, or no such customer)."""
        if not self.allowed(admin_id, f"{'block' if banned else 'unblock'} user {user_id}"):
            return False
        reason = check_reason(reason)
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            changed = await users.set_banned(conn, user_id, now if banned else None)
            if changed:
                await audit.record(
                    conn, actor_id=admin_id, action="user.block" if banned else "user.unblock",
                    target=f"user:{user_id}", before={"blocked": not banned},
                    after={"blocked": banned, "reason": reason}, now=now,
                )  # fmt: skip
        return changed

    async def request_cancel(self, admin_id: int, order_id: int) -> ActionResult:
        """Ask the panel to cancel, on the customer's behalf and by the customer's rules
        (queued, and the service cancels by API or the order is late)."""
        return await self._for_customer(admin_id, order_id, "order.cancel_request")

    async def request_refill(self, admin_id: int, order_id: int) -> ActionResult:
        """A refill (A/S) on the customer's behalf, by the customer's rules."""
        return await self._for_customer(admin_id, order_id, "order.refill_request")

    async def _for_customer(self, admin_id: int, order_id: int, action: str) -> ActionResult:
        if self.orders is None or not self.allowed(admin_id, f"{action} {order_id}"):
            return ActionResult(False, "order.not_found")
        row = await orders.get(self.ctx.db.reader, order_id)
        if row is None:
            return ActionResult(False, "order.not_found")
        ask = (
            self.orders.request_cancel
            if action == "order.cancel_request"
            else self.orders.request_refill
        )
        result = await ask(row["user_id"], order_id)
        await self.record(admin_id, action, f"order:{order_id}",
                          {"ok": result.ok, "result": result.code})  # fmt: skip
        return result


def user_label(user: User) -> str:
    """Who this is, unmistakably: a @username can be stale or shared, an id cannot
    (a KakaoTalk customer has no Telegram id: their customer number, #id, instead)."""
    ident = f"ID {user.telegram_id}" if user.front == "telegram" else f"{user.front} #{user.id}"
    name = user.first_name or ""
    if user.username:
        name = f"@{user.username} · {name}" if name else f"@{user.username}"
    return f"{name} ({ident})".lstrip()


def now_local(ctx: ShopContext) -> datetime:
    return ctx.now().astimezone(ZoneInfo(ctx.settings.timezone))
