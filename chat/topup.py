"""잔액충전: bank transfer requests (an admin approves) and payments the front collects
itself (Telegram Stars), with the pending requests and a way to withdraw them.

Taps: ``t:menu``, ``t:bank``, ``t:stars``, ``t:card``, ``t:wd:<id>`` (withdraw),
``t:done``. Steps (in ``state["step"]`` with flow "topup"): ``bank_amount`` → ``depositor``
→ ``receipt`` (a photo, where the front takes photos); ``stars_amount`` → an ``Invoice``
effect, and the front's ``Paid`` event credits it; ``card_amount`` → a checkout and a URL
choice that opens its pay page (Telegram URL button, Kakao webLink), where the card
payment happens and from where the customer's news comes back. The money-safe work
(compare-and-set, unique ledger keys) is in shop/topups.py and shop/cards.py.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from chat.screens import Choice
from chat.talk import Talk
from chat.turns import Invoice, Paid
from shop.parsing import InputError, parse_amount, parse_depositor
from shop.topups import Decision, Topup

log = logging.getLogger(__name__)

FLOW = "topup"
STEPS = ("choose", "bank_amount", "depositor", "receipt", "stars_amount", "card_amount")
STARS_CURRENCY = "XTR"


def _limits(talk: Talk) -> dict[str, int]:
    s = talk.shop.settings
    return {"min": s.topup_min, "max": s.topup_max}


def _error(talk: Talk, exc: InputError) -> str:
    return talk.t(exc.code, **exc.params)


def stars_enabled(talk: Talk) -> bool:
    return talk.caps.stars and bool(talk.shop.settings.krw_per_star)


def methods(talk: Talk) -> list[Choice]:
    """The ways to top up this front and shop offer, in order."""
    out = [talk.choice("topup.bank", "t:bank")]
    if stars_enabled(talk):
        out.append(talk.choice("topup.stars", "t:stars"))
    if talk.shop.cards.enabled:  # keys and the shop's public address are configured
        out.append(talk.choice("topup.card", "t:card"))
    return out


def _pending_lines(talk: Talk, pending: list[Topup]) -> str:
    return "\n".join(
        talk.t("topup.pending_line", id=str(p.id), amount=p.amount, depositor=p.depositor or "")
        for p in pending
    )


async def menu(talk: Talk) -> None:
    talk.end()
    talk.goto(FLOW, "choose")
    pending = [p for p in await talk.shop.topups.pending(talk.user.id) if p.method == "bank"]
    ways = methods(talk)
    # Each pending request has a withdraw choice; the newest that fit the front are shown.
    pending = sorted(pending, key=lambda p: -p.id)[: max(1, talk.caps.max_choices - len(ways))]
    pending = pending[: min(len(pending), talk.caps.page_size)]
    text = talk.t("topup.menu", balance=talk.user.balance)
    if pending:
        text += "\n\n" + talk.t("topup.pending_title") + "\n" + _pending_lines(talk, pending)
    rows = [[c] for c in ways]
    rows += [[talk.choice("topup.withdraw", f"t:wd:{p.id}", id=str(p.id))] for p in pending]
    talk.show(text, rows, kind="topup.menu")


async def ask_bank_amount(talk: Talk) -> None:
    talk.goto(FLOW, "bank_amount")
    talk.show(talk.t("topup.ask_amount", **_limits(talk)), kind="topup.ask_amount")


async def ask_stars_amount(talk: Talk) -> None:
    if not stars_enabled(talk):
        await menu(talk)
        return
    talk.goto(FLOW, "stars_amount")
    talk.show(talk.t("topup.ask_stars_amount", rate=talk.shop.settings.krw_per_star or 0,
                     **_limits(talk)), kind="topup.ask_stars_amount")  # fmt: skip


async def ask_card_amount(talk: Talk) -> None:
    if not talk.shop.cards.enabled:
        await menu(talk)
        return
    talk.goto(FLOW, "card_amount")
    talk.show(talk.t("topup.ask_card_amount", **talk.shop.cards.limits()),
              kind="topup.ask_card_amount")  # fmt: skip


async def _card_amount(talk: Talk, text: str) -> None:
    """The amount → a checkout (stored amount, expiry) → a button to its one-time page."""
    cards = talk.shop.cards
    try:
        amount = parse_amount(text, lo=cards.limits()["min"], hi=cards.limits()["max"])
        checkout = await cards.create_checkout(talk.user.id, amount)
    except InputError as exc:
        ask = talk.t("topup.ask_card_amount", **cards.limits())
        talk.say(_error(talk, exc) + "\n\n" + ask, kind="topup.ask_card_amount")
        return
    talk.end()
    pay = Choice(talk.label(talk.t("topup.card_pay", amount=amount)), url=cards.pay_url(checkout))
    minutes = talk.shop.settings.card_checkout_minutes
    talk.say(talk.t("topup.card_checkout", amount=amount, minutes=minutes), [[pay]], menu=True,
             kind="topup.card_checkout")  # fmt: skip


def _amount(talk: Talk, text: str) -> int:
    lim = _limits(talk)
    return parse_amount(text, lo=lim["min"], hi=lim["max"])


async def _bank_amount(talk: Talk, text: str) -> None:
    try:
        amount = _amount(talk, text)
    except InputError as exc:
        talk.say(_error(talk, exc) + "\n\n" + talk.t("topup.ask_amount", **_limits(talk)),
                 kind="topup.ask_amount")  # fmt: skip
        return
    talk.part("topup")["amount"] = amount
    talk.goto(FLOW, "depositor")
    talk.say(talk.t("topup.ask_depositor", amount=amount), kind="topup.ask_depositor")


async def _depositor(talk: Talk, text: str) -> None:
    amount = talk.part("topup").get("amount")
    if not isinstance(amount, int):
        await menu(talk)
        return
    try:
        name = parse_depositor(text)
    except InputError as exc:
        talk.say(_error(talk, exc) + "\n\n" + talk.t("topup.ask_depositor", amount=amount),
                 kind="topup.ask_depositor")  # fmt: skip
        return
    shop = talk.shop
    try:
        topup = await shop.topups.request_bank(talk.user.id, amount, name)
    except InputError as exc:
        talk.end()
        talk.say(_error(talk, exc), menu=True, kind="topup.refused")
        return
    account = shop.settings.bank_account or talk.t("topup.no_account")
    text = talk.t("topup.requested", id=str(topup.id), amount=amount, depositor=name,
                  account=account, hours=shop.settings.topup_expire_hours)  # fmt: skip
    if talk.caps.photos:
        talk.goto(FLOW, "receipt")
        talk.state["topup"] = {"receipt_for": topup.id}
        text += "\n\n" + talk.t("topup.receipt_hint")
        talk.say(text, [[talk.choice("topup.skip_receipt", "t:done")]], kind="topup.requested")
    else:
        talk.end()
        talk.say(text, menu=True, kind="topup.requested")


async def _stars_amount(talk: Talk, text: str) -> None:
    shop = talk.shop
    try:
        amount = _amount(talk, text)
        stars = shop.topups.stars_for(amount)
    except InputError as exc:
        ask = talk.t("topup.ask_stars_amount", rate=shop.settings.krw_per_star or 0,
                     **_limits(talk))  # fmt: skip
        talk.say(_error(talk, exc) + "\n\n" + ask, kind="topup.ask_stars_amount")
        return
    talk.end()
    talk.effects.append(
        Invoice(
            title=talk.t("topup.invoice_title"),
            description=talk.t("topup.invoice_description", amount=amount, stars=stars),
            label=talk.t("topup.invoice_label", amount=amount),
            payload=f"topup:{amount}",
            currency=STARS_CURRENCY,
            amount=stars,
        )
    )


def payload_amount(payload: str) -> int | None:
    """The amount in 원 an invoice's payload stands for (None: not one of ours)."""
    prefix, _, amount = payload.partition(":")
    return int(amount) if prefix == "topup" and amount.isdigit() and len(amount) < 12 else None


async def paid(talk: Talk, event: Paid) -> None:
    """The front collected a Stars payment: credit it once per charge id."""
    amount = payload_amount(event.payload)
    if amount is None or event.currency != STARS_CURRENCY:
        log.error("unexpected payment payload %r (%s)", event.payload, event.currency)
        return
    result = await talk.shop.topups.credit_stars(talk.user.id, amount, event.total,
                                                 event.charge_id)  # fmt: skip
    if result.decision != Decision.DONE:
        log.info("payment %s delivered again; nothing credited", event.charge_id)
        return
    rows = []
    token = talk.state.get("card")
    if isinstance(token, str) and token:  # the card that lacked balance, one tap away
        rows.append([talk.choice("topup.back_to_order", f"o:card:{token}")])
    talk.say(talk.t("topup.stars_credited", amount=amount, balance=result.balance or 0), rows,
             kind="topup.credited")  # fmt: skip


async def on_text(talk: Talk, text: str) -> bool:
    """Typed text in a top-up step; False when the step does not take text."""
    step = talk.step
    if step == "bank_amount":
        await _bank_amount(talk, text)
    elif step == "depositor":
        await _depositor(talk, text)
    elif step == "stars_amount":
        await _stars_amount(talk, text)
    elif step == "card_amount":
        await _card_amount(talk, text)
    else:
        return False
    return True


async def on_photo(talk: Talk, file_ref: str | None) -> bool:
    """A photo: the receipt of the request just made (False: not expected here)."""
    if talk.step != "receipt":
        return False
    topup_id = talk.part("topup").get("receipt_for")
    ok = bool(topup_id and file_ref) and await talk.shop.topups.attach_receipt(
        talk.user.id, int(topup_id), str(file_ref)
    )
    talk.end()
    talk.say(talk.t("topup.receipt_ok" if ok else "topup.receipt_late"), menu=True,
             kind="topup.receipt")  # fmt: skip
    return True


async def done(talk: Talk) -> None:
    if talk.flow == FLOW:
        talk.end()
    talk.say(talk.t("topup.done"), menu=True, kind="topup.done")


async def withdraw(talk: Talk, topup_id: int) -> None:
    result = await talk.shop.topups.withdraw(talk.user.id, topup_id)
    if result.decision == Decision.DONE:
        talk.note(talk.t("topup.withdrawn", id=str(topup_id)))
    else:
        talk.note(talk.t("topup.withdraw_too_late"), alert=True)
    await menu(talk)


TAPS: dict[str, Callable[[Talk], Awaitable[None]]] = {
    "menu": menu,
    "bank": ask_bank_amount,
    "stars": ask_stars_amount,
    "card": ask_card_amount,
    "done": done,
}


async def on_tap(talk: Talk, parts: list[str]) -> bool:
    action = parts[1] if len(parts) > 1 else ""
    if len(parts) == 2 and action in TAPS:
        await TAPS[action](talk)
    elif action == "wd" and len(parts) == 3 and parts[2].isdigit() and len(parts[2]) < 12:
        await withdraw(talk, int(parts[2]))
    else:
        return False
    return True
