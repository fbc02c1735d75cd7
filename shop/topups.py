"""Top-ups: bank transfers approved by an admin, and Telegram Stars payments.

Every credit is one ledger row with a unique key (``topup:<id>:credit``), written in the
same transaction as the compare-and-set that moves the request out of ``pending``: a
second press, a second admin or a replayed update changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from shop import notices
from shop.context import ShopContext
from shop.crashpoints import crashpoint
from shop.parsing import InputError
from storage import audit, ledger, topups, users
from storage.errors import DuplicatePendingTopup
from storage.ledger import Posting

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topup:
    id: int
    user_id: int
    method: str
    amount: int
    depositor: str | None
    status: str
    decided_by: int | None
    reason: str | None
    created_at: str
    stars: int | None
    receipt_url: str | None = None  # card: the PG's receipt page
    pay_method: str | None = None  # card: the PG's word for the method (카드, 간편결제…)

    @classmethod
    def from_row(cls, r: Any) -> Topup:
        return cls(
            id=r["id"], user_id=r["user_id"], method=r["method"], amount=r["amount"],
            depositor=r["depositor"], status=r["status"], decided_by=r["decided_by"],
            reason=r["reason"], created_at=r["created_at"], stars=r["stars"],
            receipt_url=r["receipt_url"], pay_method=r["pay_method"],
        )  # fmt: skip


def decided_alert(topup: Topup, who: str) -> dict[str, Any]:
    """The facts of a decided bank transfer for the admins' alert (``admin_topup_decided``):
    every admin's copy of the request is replaced by them, whoever decided and from where."""
    return {"topup_id": topup.id, "amount": topup.amount, "depositor": topup.depositor or "",
            "status": topup.status, "who": who, "reason": topup.reason}  # fmt: skip


class Decision(StrEnum):
    DONE = "done"
    ALREADY = "already"  # somebody decided first; nothing changed
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decision: Decision
    topup: Topup | None = None
    balance: int | None = None


class TopupService:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx

    def check_amount(self, amount: int) -> None:
        s = self.ctx.settings
        if amount < s.topup_min or amount > s.topup_max:
            raise InputError("input.out_of_range", {"min": s.topup_min, "max": s.topup_max})

    # ---- bank transfer -------------------------------------------------------------

    async def request_bank(self, user_id: int, amount: int, depositor: str) -> Topup:
        """Create a pending request and alert every admin in the same transaction."""
        self.check_amount(amount)
        now = self.ctx.now_iso()
        try:
            async with self.ctx.db.transaction() as conn:
                user = await users.get(conn, user_id)
                if user is None:
                    raise LookupError(user_id)
                if user["banned_at"] is not None:  # the owner blocked this customer
                    raise InputError("customer.blocked")
                topup_id = await topups.insert(
                    conn, user_id=user_id, method="bank", amount=amount, status="pending",
                    now=now, depositor=depositor,
                )  # fmt: skip
                await notices.to_admins(
                    conn, self.ctx.settings, key=f"topup:{topup_id}:new", event="admin_topup",
                    payload={"topup_id": topup_id, "amount": amount, "depositor": depositor,
                             "user_id": user_id, "telegram_id": user["telegram_id"],
                             "who": notices.who(user),
                             "username": user["username"], "first_name": user["first_name"]},
                    now=now,
                )  # fmt: skip
                row = await topups.get(conn, topup_id)
        except DuplicatePendingTopup:
            raise InputError("topup.duplicate_pending", {"amount": amount}) from None
        return Topup.from_row(row)

    async def pending(self, user_id: int | None = None) -> list[Topup]:
        return [Topup.from_row(r) for r in await topups.pending(self.ctx.db.reader, user_id)]

    async def get(self, topup_id: int) -> Topup | None:
        row = await topups.get(self.ctx.db.reader, topup_id)
        return None if row is None else Topup.from_row(row)

    async def approve(self, topup_id: int, admin_id: int) -> DecisionResult:
        if admin_id not in self.ctx.settings.admin_ids:
            log.warning("non-admin %s tried to approve top-up %s", admin_id, topup_id)
            return DecisionResult(Decision.FORBIDDEN)
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            row = await topups.get(conn, topup_id)
            if row is None:
                return DecisionResult(Decision.NOT_FOUND)
            fields = {"status": "approved", "decided_by": admin_id, "decided_at": now}
            if not await topups.update(conn, topup_id, "pending", fields):
                return DecisionResult(Decision.ALREADY, Topup.from_row(row))
            await ledger.post(
                conn,
                Posting(row["user_id"], row["amount"], "topup", f"topup:{topup_id}:credit",
                        topup_id=topup_id, note="bank transfer", actor=admin_id),
                now,
            )  # fmt: skip
            await audit.record(
                conn, actor_id=admin_id, action="topup.approve", target=f"topup:{topup_id}",
                before={"status": "pending"}, after={"status": "approved"}, now=now,
            )  # fmt: skip
            user = await users.get(conn, row["user_id"])
            await notices.to_user(
                conn, user_row=user, key=f"topup:{topup_id}:approved", event="topup_approved",
                payload={"topup_id": topup_id, "amount": row["amount"],
                         "balance": user["balance"]},
                now=now,
            )  # fmt: skip
            final = await topups.get(conn, topup_id)
            await self._alert_decided(conn, Topup.from_row(final), admin_id, now)
        crashpoint("after_topup_credit")
        return DecisionResult(Decision.DONE, Topup.from_row(final), user["balance"])

    async def reject(self, topup_id: int, admin_id: int, reason: str) -> DecisionResult:
        if admin_id not in self.ctx.settings.admin_ids:
            log.warning("non-admin %s tried to reject top-up %s", admin_id, topup_id)
            return DecisionResult(Decision.FORBIDDEN)
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            row = await topups.get(conn, topup_id)
            if row is None:
                return DecisionResult(Decision.NOT_FOUND)
            fields = {"status": "rejected", "decided_by": admin_id, "decided_at": now,
                      "reason": reason[:500]}  # fmt: skip
            if not await topups.update(conn, topup_id, "pending", fields):
                return DecisionResult(Decision.ALREADY, Topup.from_row(row))
            await audit.record(
                conn, actor_id=admin_id, action="topup.reject", target=f"topup:{topup_id}",
                before={"status": "pending"}, after={"status": "rejected", "reason": reason},
                now=now,
            )  # fmt: skip
            user = await users.get(conn, row["user_id"])
            await notices.to_user(
                conn, user_row=user, key=f"topup:{topup_id}:rejected", event="topup_rejected",
                payload={"topup_id": topup_id, "amount": row["amount"], "reason": reason},
                now=now,
            )  # fmt: skip
            final = await topups.get(conn, topup_id)
            await self._alert_decided(conn, Topup.from_row(final), admin_id, now)
        return DecisionResult(Decision.DONE, Topup.from_row(final))

    async def decider_name(self, admin_id: int | None, conn: Any = None) -> str:
        """How admins see who decided: the admin's name in the shop, else their id."""
        if admin_id is None:
            return "?"
        row = await users.get_by_telegram(conn or self.ctx.db.reader, admin_id)
        return row["first_name"] if row is not None and row["first_name"] else str(admin_id)

    async def _alert_decided(self, conn: Any, topup: Topup, admin_id: int, now: str) -> None:
        # In the decision's own transaction, so every admin's copy (chat alerts, whichever
        # front or console decided) is updated exactly once by the admins' sender.
        who = await self.decider_name(admin_id, conn)
        await notices.to_admins(
            conn, self.ctx.settings, key=f"topup:{topup.id}:decided",
            event="admin_topup_decided", payload=decided_alert(topup, who), now=now,
        )  # fmt: skip

    async def withdraw(self, user_id: int, topup_id: int) -> DecisionResult:
        """The customer takes back a request nobody approved yet."""
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            row = await topups.get(conn, topup_id)
            if row is None or row["user_id"] != user_id:
                return DecisionResult(Decision.NOT_FOUND)
            fields = {"status": "withdrawn", "decided_at": now}
            if not await topups.update(conn, topup_id, "pending", fields):
                return DecisionResult(Decision.ALREADY, Topup.from_row(row))
            await notices.to_admins(
                conn, self.ctx.settings, key=f"topup:{topup_id}:withdrawn",
                event="admin_topup_withdrawn", payload={"topup_id": topup_id}, now=now,
            )  # fmt: skip
            final = await topups.get(conn, topup_id)
        return DecisionResult(Decision.DONE, Topup.from_row(final))

    async def attach_receipt(self, user_id: int, topup_id: int, file_id: str) -> bool:
        async with self.ctx.db.transaction() as conn:
            row = await topups.get(conn, topup_id)
            if row is None or row["user_id"] != user_id:
                return False
            return await topups.update(conn, topup_id, "pending", {"receipt_file_id": file_id})

    async def expire_old(self) -> int:
        """Pending bank transfers older than ``topup_expire_hours`` expire; customer told."""
        hours = self.ctx.settings.topup_expire_hours
        before = self.ctx.now_iso(seconds=-timedelta(hours=hours).total_seconds())
        expired = 0
        for row in await topups.pending_before(self.ctx.db.reader, before):
            now = self.ctx.now_iso()
            async with self.ctx.db.transaction() as conn:
                if not await topups.update(
                    conn, row["id"], "pending", {"status": "expired", "decided_at": now}
                ):
                    continue  # fmt: skip
                user = await users.get(conn, row["user_id"])
                await notices.to_user(
                    conn, user_row=user, key=f"topup:{row['id']}:expired", event="topup_expired",
                    payload={"topup_id": row["id"], "amount": row["amount"], "hours": hours},
                    now=now,
                )  # fmt: skip
                expired += 1
        return expired

    # ---- Telegram Stars ------------------------------------------------------------

    def stars_for(self, amount: int) -> int:
        """Stars to charge for ``amount`` 원 (rounded up: never under-charge)."""
        rate = self.ctx.settings.krw_per_star
        if not rate:
            raise InputError("stars.disabled")
        self.check_amount(amount)
        return -(-amount // rate)

    async def validate_stars_checkout(self, telegram_id: int, amount: int, stars: int) -> bool:
        """Pre-checkout re-validation: the user exists and the amount is still valid."""
        user = await users.get_by_telegram(self.ctx.db.reader, telegram_id)
        if user is None or user["banned_at"] is not None:
            return False
        try:
            return self.stars_for(amount) == stars
        except InputError:
            return False

    async def credit_stars(
        self, user_id: int, amount: int, stars: int, charge_id: str
    ) -> DecisionResult:
        """``successful_payment``: credit once per ``telegram_payment_charge_id``."""
        now = self.ctx.now_iso()
        async with self.ctx.db.transaction() as conn:
            existing = await topups.get_by_external(conn, charge_id)
            if existing is not None:
                return DecisionResult(Decision.ALREADY, Topup.from_row(existing))
            topup_id = await topups.insert(
                conn, user_id=user_id, method="stars", amount=amount, status="paid", now=now,
                external_id=charge_id, stars=stars,
            )  # fmt: skip
            await ledger.post(
                conn,
                Posting(user_id, amount, "topup", f"stars:{charge_id}", topup_id=topup_id,
                        note=f"{stars} Telegram Stars"),
                now,
            )  # fmt: skip
            user = await users.get(conn, user_id)
            row = await topups.get(conn, topup_id)
        return DecisionResult(Decision.DONE, Topup.from_row(row), user["balance"])
