"""Customers: registration on first contact, terms acceptance, account summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shop.context import ShopContext
from shop.models import User
from storage import ledger, orders, topups, users


@dataclass(frozen=True, slots=True)
class LedgerLine:
    amount: int
    kind: str
    order_id: int | None
    balance_after: int
    created_at: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Account:
    user: User
    total_spent: int
    pending_topups: int
    pending_topup_amount: int
    recent: list[LedgerLine]
    order_count: int


SEEN_REFRESH_SECONDS = 3600
FRONTS = ("telegram", "kakao")


def _lang(language_code: str | None) -> str:
    return "en" if (language_code or "").lower().startswith("en") else "ko"


class UserService:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx

    async def ensure(
        self, telegram_id: int, username: str | None, first_name: str, language_code: str | None
    ) -> User:
        """The customer's record, created on first contact. Called for every update, so it
        writes only when something changed (or to refresh last_seen hourly)."""
        row = await users.get_by_telegram(self.ctx.db.reader, telegram_id)
        if row is not None and self._unchanged(row, username, first_name, language_code):
            return User.from_row(row)
        async with self.ctx.db.transaction() as conn:
            row = await users.upsert_telegram(
                conn, telegram_id, username, first_name or "", _lang(language_code),
                self.ctx.now_iso(),
            )  # fmt: skip
        return User.from_row(row)

    async def ensure_front(
        self, front: str, external_id: str, first_name: str, language_code: str | None
    ) -> User:
        """The customer of ``front`` known there as ``external_id`` (created on first contact).
        Each front's customers are separate shop customers with their own balance."""
        if front == "telegram":
            return await self.ensure(int(external_id), None, first_name, language_code)
        if front not in FRONTS:
            raise ValueError(f"unknown front {front!r}")
        row = await users.get_by_external(self.ctx.db.reader, front, external_id)
        if row is not None and self._unchanged(row, None, first_name, language_code):
            return User.from_row(row)
        async with self.ctx.db.transaction() as conn:
            row = await users.upsert_external(
                conn, front, external_id, first_name or "", _lang(language_code),
                self.ctx.now_iso(),
            )  # fmt: skip
        return User.from_row(row)

    async def by_front(self, front: str, external_id: str) -> User | None:
        row = await users.get_by_external(self.ctx.db.reader, front, external_id)
        return None if row is None else User.from_row(row)

    def _unchanged(
        self, row: Any, username: str | None, first_name: str, language_code: str | None
    ) -> bool:
        fresh = self.ctx.now_iso(seconds=-SEEN_REFRESH_SECONDS)
        return (
            row["username"] == username
            and row["first_name"] == (first_name or "")
            and row["language"] == _lang(language_code)
            and row["blocked_at"] is None
            and (row["last_seen_at"] or "") >= fresh
        )

    async def by_telegram(self, telegram_id: int) -> User | None:
        row = await users.get_by_telegram(self.ctx.db.reader, telegram_id)
        return None if row is None else User.from_row(row)

    async def get(self, user_id: int) -> User | None:
        row = await users.get(self.ctx.db.reader, user_id)
        return None if row is None else User.from_row(row)

    async def find(self, query: str) -> list[User]:
        """Admin lookup by Telegram id or ``#<customer number>`` (one customer at most, any
        front) or by @username: every customer holding that name, so an ambiguous name is
        seen as such and never resolves to whichever row happens to come first."""
        q = query.strip()
        if q.startswith("#") and q[1:].isdigit():
            user = await self.get(int(q[1:]))
            return [] if user is None else [user]
        if q.lstrip("-").isdigit():
            user = await self.by_telegram(int(q))
            return [] if user is None else [user]
        rows = await users.list_by_username(self.ctx.db.reader, q.lstrip("@"))
        return [User.from_row(r) for r in rows]

    async def accept_terms(self, user_id: int) -> None:
        async with self.ctx.db.transaction() as conn:
            await users.set_terms_accepted(conn, user_id, self.ctx.now_iso())

    async def account(self, user_id: int, recent: int = 5) -> Account:
        conn = self.ctx.db.reader
        row = await users.get(conn, user_id)
        if row is None:
            raise LookupError(user_id)
        pending = await topups.pending(conn, user_id)
        lines = [
            LedgerLine(r["amount"], r["kind"], r["order_id"], r["balance_after"],
                       r["created_at"], r["note"])
            for r in await ledger.recent(conn, user_id, recent)
        ]  # fmt: skip
        return Account(
            user=User.from_row(row),
            total_spent=await orders.total_spent(conn, user_id),
            pending_topups=len(pending),
            pending_topup_amount=sum(t["amount"] for t in pending),
            recent=lines,
            order_count=await orders.count_for_user(conn, user_id),
        )
