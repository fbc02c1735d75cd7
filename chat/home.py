"""Start, help, the information pages (FAQ, terms, support hours) and My account."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chat.i18n import Safe
from chat.talk import Talk
from shop.clock import parse_iso
from shop.users import LedgerLine

LEDGER_KINDS = ("topup", "order", "refund", "adjustment", "reserve_release")


def local_time(iso_text: str, tz: str) -> str:
    when: datetime = parse_iso(iso_text).astimezone(ZoneInfo(tz))
    return when.strftime("%Y-%m-%d %H:%M")


async def start(talk: Talk) -> None:
    talk.end()
    user = talk.user
    text = talk.t("start.greeting", name=user.first_name or talk.t("start.customer"),
                  shop=talk.shop.settings.name, balance=user.balance)  # fmt: skip
    talk.say(text, menu=True, kind="home")


async def help_page(talk: Talk) -> None:
    talk.say(talk.t("support.help"), menu=True, kind="help")


async def faq(talk: Talk) -> None:
    talk.say_long(talk.t("faq.text", shop=talk.shop.settings.name), kind="faq")


async def terms(talk: Talk) -> None:
    talk.say_long(talk.t("terms.text"), kind="terms")


async def support(talk: Talk) -> None:
    shop = talk.shop
    state = shop.support_state()
    when = state.next_open.strftime("%m/%d %H:%M")
    if state.open_now:
        status = talk.t("support.open")
    elif state.reason == "lunch":
        status = talk.t("support.closed_lunch", next=when)
    elif state.reason == "holiday":
        status = talk.t("support.closed_holiday", holiday=state.holiday_name or "", next=when)
    else:
        status = talk.t("support.closed", next=when)
    talk.say(talk.t("support.text", status=Safe(status), phone=shop.settings.support_phone,
                    kakao=shop.settings.support_kakao_url), kind="support")  # fmt: skip


def _ledger_line(talk: Talk, line: LedgerLine) -> str:
    kind = talk.t(f"account.kind_{line.kind}") if line.kind in LEDGER_KINDS else line.kind
    sign = "+" if line.amount > 0 else "-"
    when = local_time(line.created_at, talk.shop.settings.timezone)
    return talk.t("account.ledger_line", when=when, kind=kind, sign=sign, amount=abs(line.amount))


async def account(talk: Talk) -> None:
    acc = await talk.shop.users.account(talk.user.id)
    # The first line is the balance, exactly, so a glance (or a test) finds it.
    lines = [
        talk.t("account.balance", balance=acc.user.balance),
        talk.t("account.spent", spent=acc.total_spent, orders=acc.order_count),
    ]
    if acc.pending_topups:
        lines.append(talk.t("account.pending", count=acc.pending_topups,
                            amount=acc.pending_topup_amount))  # fmt: skip
    if acc.recent:
        lines += ["", talk.t("account.recent")]
        lines += [_ledger_line(talk, x) for x in acc.recent]
    talk.say("\n".join(lines), [[talk.choice("account.topup", "t:menu")]], kind="account")


async def unknown(talk: Talk) -> None:
    talk.say(talk.t("common.unknown"), menu=True, kind="unknown")
