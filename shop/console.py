"""What the owner's web console reads: the dashboard, order search and timelines, top-ups,
customers, the catalog, the audit log and broadcasts.

Every method takes the acting admin's id and answers None (or nothing) for anyone not in
``settings.admin_ids``, like shop/admin.py. What the console changes goes through the same
use-cases as the chat (shop/admin.py, shop/topups.py); nothing here writes.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shop import figures
from shop import statuses as st
from shop.admin import ATTACHABLE, REFUNDABLE, AdminService
from shop.catalog import CatalogService
from shop.context import ShopContext
from shop.models import Order, Service
from shop.orders import OrderService
from shop.topups import Topup
from shop.users import UserService
from storage import console as q
from storage import ledger

log = logging.getLogger(__name__)

PAGE = 50
MAX_QUERY = 100
PANEL_BALANCE_TTL = 60.0  # seconds a panel balance answer is reused
PANEL_BALANCE_WAIT = 1.5  # a slow panel never holds the dashboard longer than this

# The order tabs: the owner's FAQ names these states; 접수중 (created/submitting) shows
# under 보류중, which is what the customer sees for it too.
TABS: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "pending": (st.CREATED, st.SUBMITTING, st.PENDING),
    "processing": (st.PROCESSING,),
    "in_progress": (st.IN_PROGRESS,),
    "completed": (st.COMPLETED,),
    "partial": (st.PARTIAL,),
    "canceled": (st.CANCELED,),
    "failed": (st.FAILED,),
    "needs_review": (st.NEEDS_REVIEW,),
}
LATE = "late"  # not a tab: the dashboard's "not started after 48 h" link


@dataclass(frozen=True, slots=True)
class Query:
    """What the admin typed in a search box, understood once."""

    text: str
    match: str | None  # 'number', 'username', 'text' or None (nothing typed)
    number: int | None = None

    @classmethod
    def parse(cls, raw: str | None) -> Query:
        text = (raw or "").strip()[:MAX_QUERY]
        bare = text.lstrip("#").strip()
        if not text:
            return cls("", None)
        if bare.isdigit() and len(bare) <= 18:
            return cls(bare, "number", int(bare))
        if text.startswith("@") and len(text) > 1:
            return cls(text[1:], "username")
        return cls(text, "text")


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    name: str
    username: str | None
    telegram_id: int | None
    front: str  # 'telegram' or 'kakao'

    @property
    def label(self) -> str:
        return f"@{self.username}" if self.username else (self.name or f"#{self.id}")


@dataclass(frozen=True, slots=True)
class OrderLine:
    order: Order
    customer: Customer
    service_name: str


@dataclass(frozen=True, slots=True)
class Paged:
    items: list[Any]
    page: int
    has_next: bool


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: str
    kind: str  # 'status', 'panel', 'money', 'message', 'admin'
    facts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OrderDetail:
    line: OrderLine
    panel_status: str | None
    charge: str | None
    rate: str
    exchange_rate: str | None
    error: str | None
    updated_at: str
    cancel_requested_at: str | None
    refill_id: str | None
    service: Service | None
    timeline: list[TimelineEntry]
    can_refund: bool
    can_attach: bool
    can_cancel: bool
    can_refill: bool


@dataclass(frozen=True, slots=True)
class TopupLine:
    topup: Topup
    customer: Customer
    decided_at: str | None


@dataclass(frozen=True, slots=True)
class CustomerLine:
    customer: Customer
    balance: int
    order_count: int
    language: str
    created_at: str
    last_seen_at: str | None
    blocked_bot: bool
    banned_at: str | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    amount: int
    kind: str
    order_id: int | None
    topup_id: int | None
    balance_after: int
    note: str | None
    actor: int | None
    created_at: str


@dataclass(frozen=True, slots=True)
class CustomerDetail:
    line: CustomerLine
    total_spent: int
    pending_topups: int
    ledger: Paged
    orders: list[OrderLine]


@dataclass(frozen=True, slots=True)
class ServiceLine:
    service: Service
    price_per_1000: int


@dataclass(frozen=True, slots=True)
class AuditLine:
    id: int
    actor_id: int
    actor: str
    action: str
    target: str | None
    source: str
    before: Any
    after: Any
    created_at: str


@dataclass(frozen=True, slots=True)
class BroadcastLine:
    id: str
    actor_id: int
    text_html: str
    queued: int
    sent: int
    failed: int
    left: int
    created_at: str

    @property
    def finished(self) -> bool:
        return self.left == 0


@dataclass(frozen=True)
class Dashboard:
    report: figures.Report
    pending_topups: int
    review: int
    late: int
    late_hours: int
    customers: int
    panel_balance: str | None


def _customer(r: Any) -> Customer:
    return Customer(
        id=r["user_id"], name=r["customer_name"] or "", username=r["customer_username"],
        telegram_id=r["customer_telegram_id"], front=r["customer_front"],
    )  # fmt: skip


def _order_line(r: Any) -> OrderLine:
    return OrderLine(Order.from_row(r), _customer(r), r["service_name"])


def _paged(rows: list[Any], page: int) -> tuple[list[Any], bool]:
    """We ask for one row more than a page: if it came, there is a next page."""
    return rows[:PAGE], len(rows) > PAGE


def _json(text: str | None) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return text


class ConsoleService:
    def __init__(
        self,
        ctx: ShopContext,
        catalog: CatalogService,
        orders: OrderService,
        admin: AdminService,
        users: UserService,
    ) -> None:
        self.ctx = ctx
        self.catalog = catalog
        self.orders = orders
        self.admin = admin
        self.users = users
        self._past = figures.PastDays()
        self._balance: tuple[float, str | None] | None = None
        self._balance_task: asyncio.Task[str | None] | None = None

    def _ok(self, admin_id: int, what: str) -> bool:
        return self.admin.allowed(admin_id, f"console {what}")

    # ---- dashboard ---------------------------------------------------------------------

    async def dashboard(self, admin_id: int) -> Dashboard | None:
        if not self._ok(admin_id, "dashboard"):
            return None
        conn = self.ctx.db.reader
        hours = self.ctx.settings.not_started_alert_hours
        report = await figures.by_day(self.ctx, past=self._past)
        now_counts = await q.attention(
            conn, self.ctx.now_iso(seconds=-timedelta(hours=hours).total_seconds())
        )
        return Dashboard(
            report=report,
            pending_topups=now_counts["pending_topups"],
            review=now_counts["review"],
            late=now_counts["late"],
            late_hours=hours,
            customers=now_counts["customers"],
            panel_balance=await self._panel_balance(),
        )

    async def _panel_balance(self) -> str | None:
        """The panel's balance, reused for a minute; a slow panel shows as unknown rather
        than holding the page (the answer still lands in the cache for the next view)."""
        now = time.monotonic()
        if self._balance is not None and now - self._balance[0] < PANEL_BALANCE_TTL:
            return self._balance[1]
        if self._balance_task is None or self._balance_task.done():
            self._balance_task = asyncio.create_task(self._fetch_balance())
        try:
            return await asyncio.wait_for(asyncio.shield(self._balance_task), PANEL_BALANCE_WAIT)
        except TimeoutError:
            return None

    async def _fetch_balance(self) -> str | None:
        value = await self.admin.panel_balance()
        self._balance = (time.monotonic(), value)
        return value

    # ---- orders ------------------------------------------------------------------------

    async def order_counts(self, admin_id: int) -> dict[str, int]:
        """How many orders wait in each unfinished tab (the work queues; counting the
        finished ones would mean counting most of the table on every view)."""
        if not self._ok(admin_id, "order counts"):
            return {}
        by_status = await q.status_counts(self.ctx.db.reader, st.UNFINISHED)
        return {
            tab: sum(by_status.get(s, 0) for s in statuses)
            for tab, statuses in TABS.items()
            if statuses is not None and set(statuses) <= set(st.UNFINISHED)
        }

    async def search_orders(
        self,
        admin_id: int,
        *,
        tab: str = "all",
        query: str = "",
        page: int = 0,
        user_id: int | None = None,
    ) -> Paged | None:
        if not self._ok(admin_id, "orders") or (tab not in TABS and tab != LATE):
            return None
        found = Query.parse(query)
        page = max(0, page)
        late_before = None
        if tab == LATE:  # FAQ 3: queued at the panel for 48 h and not started
            hours = self.ctx.settings.not_started_alert_hours
            late_before = self.ctx.now_iso(seconds=-timedelta(hours=hours).total_seconds())
        rows = await q.search_orders(
            self.ctx.db.reader, statuses=st.QUEUED if tab == LATE else TABS[tab],
            match=found.match, text=found.text, number=found.number, user_id=user_id,
            submitted_before=late_before, limit=PAGE + 1, offset=page * PAGE,
        )  # fmt: skip
        items, more = _paged(rows, page)
        return Paged([_order_line(r) for r in items], page, more)

    async def order(self, admin_id: int, order_id: int) -> OrderDetail | None:
        if not self._ok(admin_id, f"order {order_id}"):
            return None
        conn = self.ctx.db.reader
        row = await q.order_with_names(conn, order_id)
        if row is None:
            return None
        line = _order_line(row)
        service = await self.catalog.get(row["service_id"])
        order = line.order
        return OrderDetail(
            line=line,
            panel_status=row["panel_status"],
            charge=row["charge"],
            rate=row["rate"],
            exchange_rate=row["exchange_rate"],
            error=row["error"],
            updated_at=row["updated_at"],
            cancel_requested_at=row["cancel_requested_at"],
            refill_id=row["refill_id"],
            service=service,
            timeline=await self._timeline(order_id),
            can_refund=order.status in REFUNDABLE,
            can_attach=order.status in ATTACHABLE,
            can_cancel=bool(service and service.cancel and self.orders.can_cancel(order, service)),
            can_refill=bool(service and self.orders.can_refill(order, service)),
        )

    async def _timeline(self, order_id: int) -> list[TimelineEntry]:
        conn = self.ctx.db.reader
        entries: list[tuple[str, int, TimelineEntry]] = []
        for r in await q.order_events(conn, order_id):
            facts = {k: r[k] for k in ("old_status", "status", "panel_status", "panel_order_id",
                                       "remains", "error")}  # fmt: skip
            entries.append((r["created_at"], 0, TimelineEntry(r["created_at"], r["kind"], facts)))
        for r in await ledger.for_order(conn, order_id):
            facts = {"amount": r["amount"], "ledger_kind": r["kind"], "note": r["note"],
                     "actor": r["actor"], "balance_after": r["balance_after"]}  # fmt: skip
            entries.append((r["created_at"], 1, TimelineEntry(r["created_at"], "money", facts)))
        prefixes = [f"order:{order_id}:"] + [
            f"admin:{a}:order:{order_id}:" for a in self.ctx.settings.admin_ids
        ]
        for r in await q.outbox_with_prefixes(conn, prefixes):
            at = r["sent_at"] or r["created_at"]
            facts = {"event": r["event"], "to_admin": r["dedupe_key"].startswith("admin:"),
                     "chat_id": r["chat_id"], "status": r["status"],
                     "queued_at": r["created_at"], "error": r["last_error"]}  # fmt: skip
            entries.append((at, 2, TimelineEntry(at, "message", facts)))
        for r in await q.audit_for(conn, f"order:{order_id}"):
            facts = {"action": r["action"], "actor": r["actor_id"], "source": r["source"],
                     "after": _json(r["after"])}  # fmt: skip
            entries.append((r["created_at"], 3, TimelineEntry(r["created_at"], "admin", facts)))
        entries.sort(key=lambda e: (e[0], e[1]))
        return [e for _at, _order, e in entries]

    # ---- top-ups -----------------------------------------------------------------------

    async def pending_topups(self, admin_id: int) -> list[TopupLine]:
        if not self._ok(admin_id, "pending top-ups"):
            return []
        rows = await q.topups(self.ctx.db.reader, method=None, pending=True, limit=500, offset=0)
        return [self._topup_line(r) for r in reversed(rows)]  # oldest first: first come

    async def topup_history(
        self, admin_id: int, *, method: str | None = None, page: int = 0
    ) -> Paged | None:
        if not self._ok(admin_id, "top-up history"):
            return None
        page = max(0, page)
        rows = await q.topups(
            self.ctx.db.reader, method=method, pending=False, limit=PAGE + 1, offset=page * PAGE
        )
        items, more = _paged(rows, page)
        return Paged([self._topup_line(r) for r in items], page, more)

    async def topup_methods(self, admin_id: int) -> list[str]:
        if not self._ok(admin_id, "top-up methods"):
            return []
        return await q.topup_methods(self.ctx.db.reader)

    @staticmethod
    def _topup_line(r: Any) -> TopupLine:
        return TopupLine(Topup.from_row(r), _customer(r), r["decided_at"])

    # ---- customers ---------------------------------------------------------------------

    async def customers(self, admin_id: int, *, query: str = "", page: int = 0) -> Paged | None:
        if not self._ok(admin_id, "customers"):
            return None
        found = Query.parse(query)
        page = max(0, page)
        rows = await q.customers(
            self.ctx.db.reader, match=found.match, text=found.text, number=found.number,
            limit=PAGE + 1, offset=page * PAGE,
        )  # fmt: skip
        items, more = _paged(rows, page)
        return Paged([self._customer_line(r) for r in items], page, more)

    async def customer(self, admin_id: int, user_id: int, page: int = 0) -> CustomerDetail | None:
        if not self._ok(admin_id, f"customer {user_id}"):
            return None
        conn = self.ctx.db.reader
        rows = await q.customers(conn, match="number", number=user_id, limit=5, offset=0)
        row = next((r for r in rows if r["id"] == user_id), None)
        if row is None:
            return None
        page = max(0, page)
        account = await self.users.account(user_id, recent=0)
        entries, more = _paged(await q.ledger_page(conn, user_id, PAGE + 1, page * PAGE), page)
        recent = await q.search_orders(
            conn, statuses=None, match=None, user_id=user_id, limit=20, offset=0
        )
        return CustomerDetail(
            line=self._customer_line(row),
            total_spent=account.total_spent,
            pending_topups=account.pending_topups,
            ledger=Paged([self._ledger_entry(r) for r in entries], page, more),
            orders=[_order_line(r) for r in recent],
        )

    @staticmethod
    def _customer_line(r: Any) -> CustomerLine:
        return CustomerLine(
            customer=Customer(
                id=r["id"], name=r["first_name"] or "", username=r["username"],
                telegram_id=r["telegram_id"], front=r["front"],
            ),
            balance=r["balance"], order_count=r["order_count"], language=r["language"],
            created_at=r["created_at"], last_seen_at=r["last_seen_at"],
            blocked_bot=r["blocked_at"] is not None, banned_at=r["banned_at"],
        )  # fmt: skip

    @staticmethod
    def _ledger_entry(r: Any) -> LedgerEntry:
        return LedgerEntry(
            id=r["id"], amount=r["amount"], kind=r["kind"], order_id=r["order_id"],
            topup_id=r["topup_id"], balance_after=r["balance_after"], note=r["note"],
            actor=r["actor"], created_at=r["created_at"],
        )  # fmt: skip

    # ---- catalog -----------------------------------------------------------------------

    async def services(
        self, admin_id: int, *, query: str = "", show: str = "all", page: int = 0
    ) -> Paged | None:
        """Services by category then id; ``show``: all, visible, hidden, removed."""
        if not self._ok(admin_id, "catalog"):
            return None
        text = (query or "").strip().lower()[:MAX_QUERY]
        keep = {
            "all": lambda s: not s.removed,
            "visible": lambda s: s.visible and not s.removed,
            "hidden": lambda s: not s.visible and not s.removed,
            "removed": lambda s: s.removed,
        }.get(show)
        if keep is None:
            return None
        found = [
            s
            for s in await self.catalog.all()
            if keep(s)
            and (
                not text
                or text in s.name.lower()
                or text in s.category.lower()
                or text == s.panel_id.lower()
                or text == str(s.id)
            )
        ]
        page = max(0, page)
        chunk = found[page * PAGE : (page + 1) * PAGE + 1]
        items, more = _paged(chunk, page)
        return Paged([ServiceLine(s, self.catalog.price_per_1000(s)) for s in items], page, more)

    # ---- audit log and broadcasts ------------------------------------------------------

    async def audit(
        self,
        admin_id: int,
        *,
        source: str | None = None,
        action: str | None = None,
        page: int = 0,
    ) -> Paged | None:
        if not self._ok(admin_id, "audit"):
            return None
        page = max(0, page)
        rows = await q.audit_page(
            self.ctx.db.reader, source=source, action=action, limit=PAGE + 1, offset=page * PAGE
        )
        items, more = _paged(rows, page)
        return Paged([self._audit_line(r) for r in items], page, more)

    async def audit_actions(self, admin_id: int) -> list[str]:
        if not self._ok(admin_id, "audit actions"):
            return []
        return await q.audit_actions(self.ctx.db.reader)

    @staticmethod
    def _audit_line(r: Any) -> AuditLine:
        name = f"@{r['actor_username']}" if r["actor_username"] else (r["actor_name"] or "")
        after = _json(r["after"])
        if r["action"] == "broadcast" and isinstance(after, dict) and "text" in after:
            # kept as the Telegram HTML that was sent; the log shows what the admin wrote
            # (as the broadcast pages do), not "&amp;lt;" once the page escapes it again
            after = {**after, "text": html.unescape(str(after["text"]))}
        return AuditLine(
            id=r["id"], actor_id=r["actor_id"], actor=name, action=r["action"],
            target=r["target"], source=r["source"], before=_json(r["before"]),
            after=after, created_at=r["created_at"],
        )  # fmt: skip

    async def broadcasts(self, admin_id: int, limit: int = 20) -> list[BroadcastLine]:
        if not self._ok(admin_id, "broadcasts"):
            return []
        rows = await q.audit_page(
            self.ctx.db.reader, source=None, action="broadcast", limit=limit, offset=0
        )
        return [await self._broadcast_line(r) for r in rows]

    async def broadcast(self, admin_id: int, broadcast_id: str) -> BroadcastLine | None:
        if not self._ok(admin_id, "broadcast"):
            return None
        rows = await q.audit_for(self.ctx.db.reader, f"broadcast:{broadcast_id}")
        return await self._broadcast_line(rows[0]) if rows else None

    async def _broadcast_line(self, r: Any) -> BroadcastLine:
        broadcast_id = (r["target"] or "").removeprefix("broadcast:")
        after = _json(r["after"]) or {}
        counts = await q.outbox_counts(self.ctx.db.reader, f"broadcast:{broadcast_id}:")
        return BroadcastLine(
            id=broadcast_id, actor_id=r["actor_id"], text_html=str(after.get("text", "")),
            queued=int(after.get("queued", 0)),
            sent=counts.get("sent", 0) + counts.get("skipped", 0),
            failed=counts.get("failed", 0), left=counts.get("pending", 0),
            created_at=r["created_at"],
        )  # fmt: skip
