"""My account / /balance: balance first, then spending, pending top-ups, recent ledger."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from handlers.common import Context, button, customer, inline, lang, menu_pattern, reply, shop_of
from handlers.history import local_time
from handlers.i18n import t
from shop.users import Account, LedgerLine

KINDS = ("topup", "order", "refund", "adjustment", "reserve_release")


def _line(lg: str, line: LedgerLine, tz: str) -> str:
    kind = t(lg, f"account.kind_{line.kind}") if line.kind in KINDS else line.kind
    sign = "+" if line.amount > 0 else "-"
    return t(lg, "account.ledger_line", when=local_time(line.created_at, tz), kind=kind,
             sign=sign, amount=abs(line.amount))  # fmt: skip


def account_text(lg: str, acc: Account, tz: str) -> str:
    # The first line is the balance, exactly, so a glance (or a test) finds it.
    lines = [
        t(lg, "account.balance", balance=acc.user.balance),
        t(lg, "account.spent", spent=acc.total_spent, orders=acc.order_count),
    ]
    if acc.pending_topups:
        lines.append(t(lg, "account.pending", count=acc.pending_topups,
                       amount=acc.pending_topup_amount))  # fmt: skip
    if acc.recent:
        lines += ["", t(lg, "account.recent")]
        lines += [_line(lg, x, tz) for x in acc.recent]
    return "\n".join(lines)


async def show_account(update: Update, context: Context) -> None:
    user = await customer(update, context)
    lg = lang(update)
    shop = shop_of(context)
    acc = await shop.users.account(user.id)
    markup = inline([[button(t(lg, "account.topup"), "t", "menu")]])
    await reply(update, account_text(lg, acc, shop.settings.timezone), markup)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("balance", show_account))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("account")), show_account))
