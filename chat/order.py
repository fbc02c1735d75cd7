"""Ordering a chosen service: the questions for its type, the confirmation card, confirm.

Questions by service type, each typed answer parsed by shop/parsing.py (an ``InputError``
re-asks the same question with its reason):
  Default: link → quantity → (drip-feed services) drip-feed? → runs → interval;
  Package: link; Custom Comments: link → one comment per line;
  Subscriptions (auto-likes): username → min → max → posts → delay → expiry (or none);
  a range typed for min or max ("100~200", "100-200", "100 200") answers both.
Then the confirmation card from ``shop.orders.quote`` (terms shown once before a first
order); ``o:ok:<token>`` places it. The shop makes the token idempotent, so a second tap
(or a stale card) never orders twice. The draft lives in ``state["order"]``; the last
unconfirmed card's token in ``state["card"]`` (a top-up can lead back to it).

Taps: ``o:buy:<service>`` (start), ``o:back``, ``o:x`` (cancel), ``o:drip:1|0``,
``o:int:<minutes>``, ``o:dly:<minutes>``, ``o:noexp``, ``o:ok:<token>``, ``o:card:<token>``
(the same card again), ``o:new`` (start over).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from chat import browse
from chat.i18n import Safe
from chat.screens import Choice
from chat.talk import Talk
from shop.models import (
    Order,
    OrderInput,
    PlaceOutcome,
    PlaceResult,
    Quote,
    Service,
    ServiceType,
)
from shop.orders import DRIPFEED_INTERVALS, MAX_POSTS, MAX_RUNS
from shop.parsing import (
    MAX_INPUT_CHARS,
    InputError,
    parse_comments,
    parse_int,
    parse_link,
    parse_range,
    parse_username,
)

FLOW = "order"
BUTTON_STEPS = ("drip", "interval", "sub_delay", "confirm")
INPUT_STEPS = ("link", "quantity", "runs", "comments", "username", "sub_min", "sub_max",
               "sub_posts", "sub_expiry")  # fmt: skip
INPUT_KEYS = ("link", "quantity", "drip", "runs", "interval", "comments", "username",
              "sub_min", "sub_max", "sub_posts", "sub_delay", "sub_expiry", "token")  # fmt: skip
RANGE_STEPS = ("sub_min", "sub_max")
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YES = {"네", "예", "응", "yes", "y", "ㅇㅇ", "ㅇ"}
_NO = {"아니요", "아니오", "아니", "no", "n", "ㄴㄴ", "ㄴ"}


def draft(talk: Talk) -> dict[str, Any]:
    return talk.part("order")


def steps_for(service: Service, d: dict[str, Any]) -> list[str]:
    """The input steps of this service type, in order (drip-feed runs only if chosen)."""
    if service.type == ServiceType.SUBSCRIPTIONS:
        return ["username", "sub_min", "sub_max", "sub_posts", "sub_delay", "sub_expiry"]
    if service.type == ServiceType.PACKAGE:
        return ["link"]
    if service.type == ServiceType.CUSTOM_COMMENTS:
        return ["link", "comments"]
    steps = ["link", "quantity"]
    if service.dripfeed:
        steps.append("drip")
        if d.get("drip"):
            steps += ["runs", "interval"]
    return steps


def order_input(d: dict[str, Any]) -> OrderInput:
    drip = bool(d.get("drip"))
    return OrderInput(
        link=d.get("link"), quantity=d.get("quantity"),
        runs=d.get("runs") if drip else None, interval=d.get("interval") if drip else None,
        comments=tuple(d.get("comments") or ()), username=d.get("username"),
        sub_min=d.get("sub_min"), sub_max=d.get("sub_max"),
        sub_posts=d.get("sub_posts"), sub_delay=d.get("sub_delay"),
        sub_expiry=d.get("sub_expiry"),
    )  # fmt: skip


async def current_service(talk: Talk) -> Service | None:
    """The draft's service if it can still be sold; else says so and shows the menu."""
    sid = draft(talk).get("service_id")
    service = await talk.shop.catalog.get(sid) if isinstance(sid, int) else None
    if service is None or not service.sellable:
        talk.say(talk.t("service.unavailable"), kind="order.unavailable")
        await browse.platforms(talk)
        return None
    return service


# ---- questions ------------------------------------------------------------------------


def nav_row(talk: Talk) -> list[Choice]:
    return [talk.choice("common.back", "o:back"), talk.choice("common.cancel", "o:x")]


def _grid(buttons: list[Choice], width: int) -> list[list[Choice]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def _minute_options(
    talk: Talk, prefix: str, values: tuple[int, ...], width: int
) -> tuple[list[list[Choice]], str]:
    """Buttons for a choice of minutes, as many as the front shows beside back/cancel; the
    rest are offered for typing (the text lists them)."""
    room = max(1, talk.caps.max_choices - len(nav_row(talk)))
    shown, rest = values[:room], values[room:]
    buttons = [talk.choice("order.minutes", f"{prefix}:{m}", n=m) for m in shown]
    note = ""
    if rest:
        note = "\n" + talk.t("order.more_minutes", values=", ".join(str(m) for m in rest))
    return _grid(buttons, width), note


def ask(talk: Talk, service: Service, step: str, *, replace: bool = False) -> None:
    """Ask the question for ``step``."""
    d = draft(talk)
    talk.goto(FLOW, step)
    rows: list[list[Choice]] = []
    params: dict[str, Any] = {"min": service.min, "max": service.max}
    width = min(4, talk.caps.row_width)
    note = ""
    if step == "drip":
        rows.append([talk.choice("order.drip_yes", "o:drip:1"),
                     talk.choice("order.drip_no", "o:drip:0")])  # fmt: skip
    elif step == "runs":
        params = {"max_runs": MAX_RUNS}
    elif step == "interval":
        grid, note = _minute_options(talk, "o:int", DRIPFEED_INTERVALS, width)
        rows += grid
        params = {}
    elif step == "sub_max":
        params["lo"] = d.get("sub_min") or service.min
    elif step == "sub_posts":
        params = {"max_posts": MAX_POSTS}
    elif step == "sub_delay":
        delays = talk.shop.settings.subscription_delays
        grid, note = _minute_options(talk, "o:dly", delays, width)
        rows += grid
        params = {}
    elif step == "sub_expiry":
        rows.append([talk.choice("order.no_expiry", "o:noexp")])
    rows.append(nav_row(talk))
    text = talk.t(f"order.ask_{step}", **params) + note
    talk.say(text, rows, replace=replace, kind=f"order.{step}")


async def next_step(talk: Talk, service: Service, *, replace: bool = False) -> None:
    """Move past the current step: the next question, or the confirmation card."""
    d = draft(talk)
    steps = steps_for(service, d)
    current = talk.step
    i = steps.index(current) + 1 if current in steps else 0
    if i < len(steps):
        ask(talk, service, steps[i], replace=replace)
    else:
        await show_card(talk, service)


async def begin(talk: Talk, service: Service, **known: Any) -> None:
    """Start the questions for ``service`` (``known``: answers already given)."""
    talk.goto(FLOW, "start")
    d = draft(talk)
    for key in INPUT_KEYS:
        d.pop(key, None)
    d["service_id"] = service.id
    d.update(known)
    todo = [step for step in steps_for(service, d) if step not in known]
    if todo:
        ask(talk, service, todo[0], replace=not known)
    else:
        await show_card(talk, service)


async def again(talk: Talk, order: Order) -> None:
    """ "같은 상품 다시 주문": the same service and link, straight to the next question.
    (The duplicate-job rule still applies when it is placed.)"""
    service = await talk.shop.catalog.get(order.service_id)
    if service is None or not service.sellable:
        talk.say(talk.t("service.unavailable"), kind="order.unavailable")
        await browse.platforms(talk)
        return
    talk.end()
    if service.type == ServiceType.SUBSCRIPTIONS:
        known = {"username": order.username} if order.username else {}
    else:
        known = {"link": order.link} if order.link else {}
    await begin(talk, service, **known)


# ---- typed answers --------------------------------------------------------------------


def parse_step(step: str, text: str, service: Service, d: dict[str, Any]) -> Any:
    """Parse a typed answer for ``step``; raises InputError with a message key."""
    if step == "link":
        return parse_link(text)
    if step == "quantity":
        return parse_int(text, lo=service.min, hi=service.max)
    if step == "runs":
        return parse_int(text, lo=2, hi=MAX_RUNS)
    if step == "comments":
        return list(parse_comments(text, lo=service.min, hi=service.max))
    if step == "username":
        return parse_username(text)
    if step == "sub_min":
        return parse_int(text, lo=service.min, hi=service.max)
    if step == "sub_max":
        value = parse_int(text, lo=service.min, hi=service.max)
        if value < (d.get("sub_min") or 0):
            raise InputError("sub.max_below_min", {"min": d.get("sub_min") or 0})
        return value
    if step == "sub_posts":
        return parse_int(text, lo=1, hi=MAX_POSTS)
    if step == "sub_expiry":
        day = text.strip()
        if not _DAY_RE.match(day):
            raise InputError("sub.expiry_invalid")
        try:
            return date.fromisoformat(day).isoformat()
        except ValueError:
            raise InputError("sub.expiry_invalid") from None
    raise InputError("order.use_buttons")


def _typed_choice(step: str, text: str, talk: Talk) -> Any:
    """A button step answered by typing ("30", "네"): the value, or None."""
    word = text.strip().casefold().removesuffix("분").removesuffix("min").strip()
    if step == "drip":
        return True if word in _YES else False if word in _NO else None
    options = DRIPFEED_INTERVALS if step == "interval" else talk.shop.settings.subscription_delays
    if step in ("interval", "sub_delay") and word.isdigit() and int(word) in options:
        return int(word)
    return None


STEP_KEYS = {"drip": "drip", "interval": "interval", "sub_delay": "sub_delay"}


async def on_text(talk: Talk, text: str) -> None:
    """Typed text in the order flow's current step."""
    step = talk.step or ""
    if step in browse.MENU_STEPS:
        await _menu_text(talk, text)
        return
    service = await current_service(talk)
    if service is None:
        return
    d = draft(talk)
    if step in STEP_KEYS:
        value = _typed_choice(step, text, talk)
        if value is None:
            talk.say(talk.t("order.use_buttons"), kind="order.use_buttons")
            ask(talk, service, step)
            return
        d[STEP_KEYS[step]] = value
        await next_step(talk, service)
        return
    if step not in INPUT_STEPS:  # the card waits for a button
        talk.say(talk.t("order.use_buttons"), kind="order.use_buttons")
        return
    limit = MAX_INPUT_CHARS * 4 if step == "comments" else MAX_INPUT_CHARS
    if len(text) > limit:
        talk.say(talk.t("order.too_long", max=limit), kind="order.error")
        ask(talk, service, step)
        return
    try:
        # Auto-likes: "100~200" (or "100-200", "100 200") answers min and max at once.
        pair = parse_range(text, lo=service.min, hi=service.max) if step in RANGE_STEPS else None
        if pair is None:
            d[step] = parse_step(step, text, service, d)
    except InputError as err:
        talk.say(talk.t(err.code, **err.params), kind="order.error")
        ask(talk, service, step)
        return
    if pair is not None:
        d["sub_min"], d["sub_max"] = pair
        talk.goto(FLOW, "sub_max")  # both answered: on to the number of posts
    await next_step(talk, service)


async def _menu_text(talk: Talk, text: str) -> None:
    """Typed at a menu step: on a card, the answer to its first question; anywhere, a
    service number or words to search for."""
    if len(text) > MAX_INPUT_CHARS:
        talk.say(talk.t("order.too_long", max=MAX_INPUT_CHARS), kind="order.error")
        return
    menu = await talk.shop.catalog.menu()
    if talk.step == "card":
        service = await current_service(talk)
        if service is None:
            return
        if menu.by_number(text) is None:
            first = steps_for(service, draft(talk))[0]
            try:
                value = parse_step(first, text, service, draft(talk))
            except InputError as err:
                if await browse.find(talk, text, numbers=False):
                    return
                talk.say(talk.t(err.code, **err.params), kind="order.error")
                ask(talk, service, first)
                return
            await begin(talk, service, **{first: value})
            return
    if not await browse.find(talk, text):
        await browse.not_found(talk, text)


async def on_media(talk: Talk) -> None:
    """A sticker or photo where text is expected: say so and ask again."""
    talk.say(talk.t("common.text_expected"), kind="order.error")
    step = talk.step or ""
    if step in INPUT_STEPS or step in STEP_KEYS:
        service = await current_service(talk)
        if service is not None:
            ask(talk, service, step)


# ---- the confirmation card ------------------------------------------------------------


# The shop's refusals across fields, and the question the customer answers to fix each
# ("runs × quantity over the maximum": fewer runs, not another interval).
ERROR_STEPS = {"dripfeed.total": "runs", "dripfeed.invalid": "runs"}


def card_text(talk: Talk, q: Quote) -> str:
    inp = q.input
    svc = q.service
    room = talk.caps.text_limit // 2  # the customer's link or names may take at most this
    if svc.type == ServiceType.SUBSCRIPTIONS:
        expiry = inp.sub_expiry or talk.t("order.no_expiry_set")
        what = talk.t("order.card_sub", username=inp.username or "", min=inp.sub_min or 0,
                      max=inp.sub_max or 0, posts=inp.sub_posts or 0, delay=inp.sub_delay or 0,
                      expiry=expiry, reserve=q.price)  # fmt: skip
    elif svc.type == ServiceType.CUSTOM_COMMENTS:
        sample = "\n".join(c[:80] for c in inp.comments[:3])
        what = talk.t_fit("order.card_comments", room, shrink=("link", "sample"),
                          link=inp.link or "", count=len(inp.comments), sample=sample)  # fmt: skip
    elif svc.type == ServiceType.PACKAGE:
        what = talk.t_fit("order.card_package", room, shrink=("link",), link=inp.link or "")
    elif inp.runs:
        what = talk.t_fit("order.card_drip", room, shrink=("link",), link=inp.link or "",
                          quantity=inp.quantity or 0, runs=inp.runs, interval=inp.interval or 0,
                          total=q.units)  # fmt: skip
    else:
        what = talk.t_fit("order.card_default", room, shrink=("link",), link=inp.link or "",
                          quantity=q.units)  # fmt: skip
    # Short of money, "→ -31,740원" would read as a debt: the card_missing line says it.
    balance_line = (
        talk.t("order.card_balance_short", balance=q.balance) if q.missing
        else talk.t("order.card_balance", balance=q.balance, after=q.balance_after)
    )  # fmt: skip
    text = talk.t_fit("order.card", shrink=("service",), service=svc.name, what=Safe(what),
                      price=q.price, balance_line=Safe(balance_line))  # fmt: skip
    if q.missing:
        text += "\n\n" + talk.t("order.card_missing", missing=q.missing)
    return text


def card_rows(talk: Talk, q: Quote, *, back: bool) -> list[list[Choice]]:
    rows = [[talk.choice("order.confirm", f"o:ok:{q.token}"), talk.choice("common.cancel", "o:x")]]
    if q.missing:
        rows.append([talk.choice("order.topup", "t:menu")])
    if back:
        rows.append([talk.choice("common.back", "o:back")])
    return rows


async def show_card(talk: Talk, service: Service) -> None:
    d = draft(talk)
    try:
        q = await talk.shop.orders.quote(talk.user.id, service.id, order_input(d))
    except InputError as err:
        # The shop's checks across fields (e.g. drip-feed total): re-ask the last step.
        if err.code == "customer.blocked":  # no answer can fix this one: back to the menu
            talk.end()
            talk.say(talk.t(err.code), menu=True, kind="order.refused")
            return
        talk.say(talk.t(err.code, **err.params), kind="order.error")
        if err.code == "service.unavailable":
            await browse.platforms(talk)
            return
        steps = steps_for(service, d)
        step = ERROR_STEPS.get(err.code, talk.step)  # the question whose answer can fix it
        ask(talk, service, step if step in steps else steps[-1])
        return
    if not talk.user.terms_accepted and not d.get("terms_shown"):
        d["terms_shown"] = True  # FAQ rule 11: the terms before the first order
        talk.say_long(talk.t("terms.text") + "\n\n" + talk.t("terms.first_order"), kind="terms")
    talk.goto(FLOW, "confirm")
    d["token"] = q.token
    talk.state["card"] = q.token
    talk.say(card_text(talk, q), card_rows(talk, q, back=True), kind="order.card")


def result_text(talk: Talk, result: PlaceResult) -> tuple[str, bool]:
    """The answer to a confirmation and whether to offer starting again."""
    o = result.order
    oid = str(o.id if o else 0)
    match result.outcome:
        case PlaceOutcome.PLACED:
            return talk.t("order.placed", id=oid), False
        case PlaceOutcome.ACCEPTED:  # paid; a front's deadline came before the panel
            return talk.t("order.accepted", id=oid), False
        case PlaceOutcome.REPLAYED:
            return talk.t("order.replayed", id=oid), False
        case PlaceOutcome.INSUFFICIENT:
            return talk.t("order.insufficient", missing=result.missing), False
        case PlaceOutcome.DUPLICATE_JOB:
            return talk.t("order.duplicate"), True
        case PlaceOutcome.FAILED:
            return talk.t("order.failed", id=oid), True
        case PlaceOutcome.NEEDS_REVIEW:
            return talk.t("order.needs_review", id=oid), False
        case PlaceOutcome.EXPIRED:
            return talk.t("order.expired"), True
        case PlaceOutcome.UNAVAILABLE:
            return talk.t("service.unavailable"), True
        case PlaceOutcome.BLOCKED:
            return talk.t("customer.blocked"), False
        case _:
            return talk.t("order.not_found"), True


async def confirm(talk: Talk, token: str) -> None:
    talk.clear_tapped = True  # the card's buttons go: a second tap has nothing to press
    result = await talk.shop.orders.place(talk.user.id, token,
                                          submit_within=talk.answer_within)  # fmt: skip
    text, again_offered = result_text(talk, result)
    if talk.state.get("card") == token:
        talk.state.pop("card", None)
    if talk.flow == FLOW:
        talk.end()
    if result.outcome == PlaceOutcome.INSUFFICIENT:
        talk.state["card"] = token  # after a top-up, the same card can come back
        talk.say(text, [[talk.choice("order.topup", "t:menu")]], kind="order.result")
    elif again_offered:
        talk.say(text, [[talk.choice("order.start_again", "o:new")]], kind="order.result")
    else:
        talk.say(text, menu=True, kind="order.result")


async def reshow_card(talk: Talk, token: str) -> None:
    """After a top-up: the same confirmation card again (same token, same price)."""
    shop = talk.shop
    q = await shop.orders.get_quote(talk.user.id, token)
    if q is None or q.expires_at < shop.ctx.now_iso() or not q.service.sellable:
        talk.note(talk.t("common.expired_button"), alert=True)
        return
    talk.end()
    talk.goto(FLOW, "confirm")
    draft(talk).update(service_id=q.service.id, token=q.token)
    talk.state["card"] = q.token
    talk.say(card_text(talk, q), card_rows(talk, q, back=False), kind="order.card")


async def cancel(talk: Talk) -> None:
    talk.clear_tapped = True
    talk.end()
    talk.state.pop("card", None)
    talk.say(talk.t("common.cancelled"), menu=True, kind="cancelled")


async def back(talk: Talk) -> None:
    step = talk.step or ""
    if step not in INPUT_STEPS and step not in BUTTON_STEPS:
        await browse.platforms(talk)
        return
    service = await current_service(talk)
    if service is None:
        return
    steps = steps_for(service, draft(talk))
    if step == "confirm":
        ask(talk, service, steps[-1], replace=True)
        return
    i = steps.index(step) if step in steps else 0
    if i == 0:
        await browse.card(talk, service)
    else:
        ask(talk, service, steps[i - 1], replace=True)


async def on_tap(talk: Talk, parts: list[str]) -> bool:
    """``o:…`` data; False when it is not one of ours."""
    action = parts[1] if len(parts) > 1 else ""
    arg = parts[2] if len(parts) > 2 else ""
    step = talk.step if talk.flow == FLOW else None
    if action == "x":
        await cancel(talk)
    elif action == "ok" and arg:
        await confirm(talk, arg)
    elif action == "card" and arg:
        await reshow_card(talk, arg)
    elif action == "new":
        talk.end()
        await browse.platforms(talk)
    elif action == "back":
        await back(talk)
    elif action == "buy":
        sid = int(arg) if arg.isdigit() and len(arg) < 10 else draft(talk).get("service_id")
        service = await talk.shop.catalog.get(sid) if isinstance(sid, int) else None
        if service is None or not service.sellable:
            talk.say(talk.t("service.unavailable"), kind="order.unavailable")
            await browse.platforms(talk)
        else:
            await begin(talk, service)
    elif action in ("drip", "int", "dly", "noexp"):
        await _button_step(talk, action, arg, step)
    else:
        return False
    return True


async def _button_step(talk: Talk, action: str, arg: str, step: str | None) -> None:
    wanted = {"drip": "drip", "int": "interval", "dly": "sub_delay", "noexp": "sub_expiry"}
    if step != wanted[action]:  # a button from an earlier question
        talk.note(talk.t("common.expired_button"))
        if step in INPUT_STEPS or step in BUTTON_STEPS:
            service = await current_service(talk)
            if service is not None and step != "confirm":
                ask(talk, service, step)
        return
    service = await current_service(talk)
    if service is None:
        return
    d = draft(talk)
    if action == "drip":
        d["drip"] = arg == "1"
    elif action == "noexp":
        d["sub_expiry"] = None
    elif arg.isdigit() and len(arg) < 6:
        d[wanted[action]] = int(arg)
    else:
        ask(talk, service, step)
        return
    await next_step(talk, service, replace=True)
