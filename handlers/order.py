"""The customer's order flow (one persistent ConversationHandler named "order").

Entered by the "🛒 주문하기" / "🛒 Order" menu label or /order:

1. category (buttons ``o:cat:<index>``) → services in it, 6 a page (``o:pg:<page>``), each
   with its price per 1000, min–max and refill flag → service detail (``o:svc:<id>``) with
   its description, "the estimate is only an estimate" and 주문하기 (``o:buy``).
2. inputs by service type, each typed answer parsed by shop/parsing.py; an ``InputError``
   re-asks the same question with its reason (``t(lang, err.code, **err.params)``):
   Default: link → quantity → (drip-feed services) drip-feed? → runs → interval;
   Package: link; Custom Comments: link → one comment per line;
   Subscriptions (auto-likes): username → min → max → posts → delay → expiry (or skip).
3. confirmation card from ``shop.orders.quote`` (terms shown once before a first order),
   ``o:ok:<token>`` → ``shop.orders.place``. The card loses its buttons when pressed and
   the shop makes the token idempotent, so a double tap never orders twice; an ``o:ok``
   pressed after the conversation ended is still answered (with the same order number).

The conversation step is the PTB state; the draft lives in ``user_data["order"]`` as a
JSON-able dict (the persistence stores JSON), so a restart mid-flow loses nothing.
``o:back`` goes one step back, ``o:x`` / /cancel end it; another main-menu label ends it
too (the customer presses it again); 15 minutes of silence ends it politely.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

from telegram import InlineKeyboardButton, Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from chat.i18n import Safe, t
from chat.menu import MENU_KEYS
from handlers.common import (
    Context,
    answer,
    button,
    customer,
    inline,
    lang,
    main_menu,
    menu_pattern,
    reply,
    shop_of,
    show,
)
from shop.models import OrderInput, PlaceOutcome, PlaceResult, Quote, Service, ServiceType
from shop.orders import DRIPFEED_INTERVALS, MAX_POSTS, MAX_RUNS
from shop.parsing import (
    MAX_INPUT_CHARS,
    InputError,
    parse_comments,
    parse_int,
    parse_link,
    parse_username,
)

PAGE_SIZE = 6
IDLE_SECONDS = 15 * 60  # a conversation left idle this long ends politely
DRAFT = "order"
END = ConversationHandler.END
# Steps that wait for a button rather than typed text.
BUTTON_STEPS = ("category", "services", "detail", "drip", "interval", "sub_delay", "confirm")
INPUT_STEPS = ("link", "quantity", "runs", "comments", "username", "sub_min", "sub_max",
               "sub_posts", "sub_expiry")  # fmt: skip
ALL_STEPS = BUTTON_STEPS + INPUT_STEPS
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---- the draft ------------------------------------------------------------------------


def draft_of(context: Context) -> dict[str, Any]:
    data = context.user_data
    assert data is not None
    return data.setdefault(DRAFT, {})


def clear_draft(context: Context) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


def steps_for(service: Service, draft: dict[str, Any]) -> list[str]:
    """The input steps of this service type, in order (drip-feed only if chosen)."""
    if service.type == ServiceType.SUBSCRIPTIONS:
        return ["username", "sub_min", "sub_max", "sub_posts", "sub_delay", "sub_expiry"]
    if service.type == ServiceType.PACKAGE:
        return ["link"]
    if service.type == ServiceType.CUSTOM_COMMENTS:
        return ["link", "comments"]
    steps = ["link", "quantity"]
    if service.dripfeed:
        steps.append("drip")
        if draft.get("drip"):
            steps += ["runs", "interval"]
    return steps


def order_input(draft: dict[str, Any]) -> OrderInput:
    drip = bool(draft.get("drip"))
    return OrderInput(
        link=draft.get("link"), quantity=draft.get("quantity"),
        runs=draft.get("runs") if drip else None, interval=draft.get("interval") if drip else None,
        comments=tuple(draft.get("comments") or ()), username=draft.get("username"),
        sub_min=draft.get("sub_min"), sub_max=draft.get("sub_max"),
        sub_posts=draft.get("sub_posts"), sub_delay=draft.get("sub_delay"),
        sub_expiry=draft.get("sub_expiry"),
    )  # fmt: skip


# ---- rendering ------------------------------------------------------------------------


def nav_row(lg: str) -> list[InlineKeyboardButton]:
    return [button(t(lg, "common.back"), "o", "back"), button(t(lg, "common.cancel"), "o", "x")]


def yes_no(lg: str, flag: bool) -> str:
    return t(lg, "order.yes" if flag else "order.no")


CATEGORY_KEY = re.compile(r"[0-9a-f]{8}")


def category_key(name: str) -> str:
    """A short stable id for a category name (its position would shift with the catalog,
    and Korean names would not fit in 64 bytes of callback data)."""
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]


async def show_categories(update: Update, context: Context) -> str:
    lg = lang(update)
    cats = await shop_of(context).catalog.categories()
    draft = draft_of(context)
    draft["step"] = "category"
    if not cats:
        await show(update, t(lg, "order.no_services"))
        return "category"
    rows = [[button(name, "o", "cat", category_key(name))] for name in cats]
    rows.append([button(t(lg, "common.cancel"), "o", "x")])
    await show(update, t(lg, "order.pick_category"), inline(rows))
    return "category"


async def show_services(update: Update, context: Context) -> str:
    lg = lang(update)
    shop = shop_of(context)
    draft = draft_of(context)
    cats = await shop.catalog.categories()
    category = next((c for c in cats if category_key(c) == draft.get("cat")), None)
    if category is None:  # the catalog changed under an old button
        return await show_categories(update, context)
    services = await shop.catalog.in_category(category)
    pages = max(1, -(-len(services) // PAGE_SIZE))
    page = min(max(draft.get("page", 0), 0), pages - 1)
    draft.update(step="services", page=page)
    chunk = services[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [
        t(lg, "order.service_line", n=page * PAGE_SIZE + i + 1, name=s.name,
          price=shop.catalog.price_per_1000(s), min=s.min, max=s.max, refill=yes_no(lg, s.refill))
        for i, s in enumerate(chunk)
    ]  # fmt: skip
    text = t(lg, "order.services", category=category, page=page + 1, pages=pages,
             lines=Safe("\n\n".join(lines)))  # fmt: skip
    rows = [[button(f"{page * PAGE_SIZE + i + 1}. {s.name[:40]}", "o", "svc", s.id)]
            for i, s in enumerate(chunk)]  # fmt: skip
    paging = []
    if page > 0:
        paging.append(button(t(lg, "order.prev_page"), "o", "pg", page - 1))
    if page < pages - 1:
        paging.append(button(t(lg, "order.next_page"), "o", "pg", page + 1))
    rows += [paging, nav_row(lg)]
    await show(update, text, inline(rows))
    return "services"


async def show_detail(update: Update, context: Context, service: Service) -> str:
    lg = lang(update)
    shop = shop_of(context)
    draft = draft_of(context)
    draft.update(step="detail", service_id=service.id)
    desc = t(lg, "order.description", text=service.description) if service.description else ""
    kind = "order.kind_" + service.type.value.lower().replace(" ", "_")
    text = t(lg, "order.detail", name=service.name, price=shop.catalog.price_per_1000(service),
             min=service.min, max=service.max, refill=yes_no(lg, service.refill),
             cancel=yes_no(lg, service.cancel), kind=t(lg, kind),
             description=Safe(desc))  # fmt: skip
    rows = [[button(t(lg, "order.buy"), "o", "buy")], nav_row(lg)]
    await show(update, text, inline(rows))
    return "detail"


def question(lg: str, step: str, service: Service, draft: dict[str, Any]) -> tuple[str, Any]:
    """The text and buttons that ask for ``step``."""
    rows: list[list[InlineKeyboardButton]] = []
    params: dict[str, Any] = {"min": service.min, "max": service.max}
    if step == "drip":
        rows.append([button(t(lg, "order.drip_yes"), "o", "drip", 1),
                     button(t(lg, "order.drip_no"), "o", "drip", 0)])  # fmt: skip
    elif step == "runs":
        params = {"max_runs": MAX_RUNS}
    elif step == "interval":
        btns = [button(t(lg, "order.minutes", n=m), "o", "int", m) for m in DRIPFEED_INTERVALS]
        rows += [btns[i : i + 4] for i in range(0, len(btns), 4)]
    elif step == "sub_max":
        params["lo"] = draft.get("sub_min") or service.min
    elif step == "sub_posts":
        params = {"max_posts": MAX_POSTS}
    elif step == "sub_delay":
        return t(lg, "order.ask_sub_delay"), None  # buttons need the shop: see ask()
    elif step == "sub_expiry":
        rows.append([button(t(lg, "order.no_expiry"), "o", "noexp")])
    rows.append(nav_row(lg))
    return t(lg, f"order.ask_{step}", **params), inline(rows)


async def ask(update: Update, context: Context, step: str, *, edit: bool = False) -> str:
    """Ask the question for ``step`` (editing the pressed message when ``edit``)."""
    lg = lang(update)
    draft = draft_of(context)
    if step == "category":
        return await show_categories(update, context)
    if step == "services":
        return await show_services(update, context)
    service = await shop_of(context).catalog.get(draft.get("service_id", 0))
    if service is None or not service.sellable:
        await reply(update, t(lg, "service.unavailable"))
        return await show_categories(update, context)
    if step == "detail":
        return await show_detail(update, context, service)
    if step == "confirm":
        return await show_card(update, context, service)
    draft["step"] = step
    text, markup = question(lg, step, service, draft)
    if step == "sub_delay":
        delays = shop_of(context).settings.subscription_delays
        btns = [button(t(lg, "order.minutes", n=m), "o", "dly", m) for m in delays]
        markup = inline([btns[i : i + 4] for i in range(0, len(btns), 4)] + [nav_row(lg)])
    if edit:
        await show(update, text, markup)
    else:
        await reply(update, text, markup)
    return step


async def next_step(update: Update, context: Context, service: Service, *, edit: bool) -> str:
    """Move past the current step: the next question, or the confirmation card."""
    draft = draft_of(context)
    steps = steps_for(service, draft)
    current = draft.get("step")
    i = steps.index(current) + 1 if current in steps else 0
    if i < len(steps):
        return await ask(update, context, steps[i], edit=edit)
    return await show_card(update, context, service)


# ---- the confirmation card ------------------------------------------------------------


def card_text(lg: str, q: Quote) -> str:
    inp = q.input
    svc = q.service
    if svc.type == ServiceType.SUBSCRIPTIONS:
        expiry = inp.sub_expiry or t(lg, "order.no_expiry_set")
        what = t(lg, "order.card_sub", username=inp.username or "", min=inp.sub_min or 0,
                 max=inp.sub_max or 0, posts=inp.sub_posts or 0, delay=inp.sub_delay or 0,
                 expiry=expiry, reserve=q.price)  # fmt: skip
    elif svc.type == ServiceType.CUSTOM_COMMENTS:
        sample = "\n".join(c[:80] for c in inp.comments[:3])
        what = t(lg, "order.card_comments", link=inp.link or "", count=len(inp.comments),
                 sample=sample)  # fmt: skip
    elif svc.type == ServiceType.PACKAGE:
        what = t(lg, "order.card_package", link=inp.link or "")
    elif inp.runs:
        what = t(lg, "order.card_drip", link=inp.link or "", quantity=inp.quantity or 0,
                 runs=inp.runs, interval=inp.interval or 0, total=q.units)  # fmt: skip
    else:
        what = t(lg, "order.card_default", link=inp.link or "", quantity=q.units)
    text = t(lg, "order.card", service=svc.name, what=Safe(what), price=q.price,
             balance=q.balance, after=q.balance_after)  # fmt: skip
    if q.missing:
        text += "\n\n" + t(lg, "order.card_missing", missing=q.missing)
    return text


async def show_card(update: Update, context: Context, service: Service) -> str:
    lg = lang(update)
    draft = draft_of(context)
    user = await customer(update, context)
    try:
        q = await shop_of(context).orders.quote(user.id, service.id, order_input(draft))
    except InputError as err:
        # The shop's checks across fields (e.g. drip-feed total): re-ask the last step.
        await reply(update, t(lg, err.code, **err.params))
        if err.code == "service.unavailable":
            return await show_categories(update, context)
        return await ask(update, context, draft.get("step") or "link")
    if not user.terms_accepted and not draft.get("terms_shown"):
        draft["terms_shown"] = True  # FAQ rule 11: the terms before the first order
        await reply(update, t(lg, "terms.text") + "\n\n" + t(lg, "terms.first_order"))
    draft.update(step="confirm", token=q.token)
    rows = [[button(t(lg, "order.confirm"), "o", "ok", q.token),
             button(t(lg, "common.cancel"), "o", "x")],
            [button(t(lg, "common.back"), "o", "back")]]  # fmt: skip
    if q.missing:
        rows.insert(1, [button(t(lg, "order.topup"), "t", "menu")])
    await reply(update, card_text(lg, q), inline(rows))
    return "confirm"


def result_text(lg: str, result: PlaceResult) -> tuple[str, bool]:
    """The answer to a confirmation and whether to offer starting again."""
    o = result.order
    oid = o.id if o else 0
    match result.outcome:
        case PlaceOutcome.PLACED:
            return t(lg, "order.placed", id=oid), False
        case PlaceOutcome.REPLAYED:
            return t(lg, "order.replayed", id=oid), False
        case PlaceOutcome.INSUFFICIENT:
            return t(lg, "order.insufficient", missing=result.missing), False
        case PlaceOutcome.DUPLICATE_JOB:
            return t(lg, "order.duplicate"), True
        case PlaceOutcome.FAILED:
            return t(lg, "order.failed", id=oid), True
        case PlaceOutcome.NEEDS_REVIEW:
            return t(lg, "order.needs_review", id=oid), False
        case PlaceOutcome.EXPIRED:
            return t(lg, "order.expired"), True
        case PlaceOutcome.UNAVAILABLE:
            return t(lg, "service.unavailable"), True
        case _:
            return t(lg, "order.not_found"), True


async def confirm(update: Update, context: Context, token: str) -> int:
    lg = lang(update)
    query = update.callback_query
    await answer(update)
    if query is not None and query.message is not None:
        # Drop the buttons first: a second tap then has nothing to press.
        try:
            await query.edit_message_reply_markup(None)
        except BadRequest:  # already edited (e.g. by the first of two taps)
            pass
    user = await customer(update, context)
    result = await shop_of(context).orders.place(user.id, token)
    text, again = result_text(lg, result)
    clear_draft(context)
    if result.outcome == PlaceOutcome.INSUFFICIENT:
        markup = inline([[button(t(lg, "order.topup"), "t", "menu")]])
    elif again:
        markup = inline([[button(t(lg, "order.start_again"), "o", "new")]])
    else:
        markup = main_menu(lg)
    await reply(update, text, markup)
    return END


# ---- handlers -------------------------------------------------------------------------


async def start_order(update: Update, context: Context) -> str:
    await customer(update, context)
    clear_draft(context)
    return await show_categories(update, context)


async def cancel(update: Update, context: Context) -> int:
    await answer(update)
    clear_draft(context)
    if update.callback_query is not None:
        try:
            await update.callback_query.edit_message_reply_markup(None)
        except BadRequest:  # the message may be gone or unchanged
            pass
    await reply(update, t(lang(update), "common.cancelled"), main_menu(lang(update)))
    return END


async def back(update: Update, context: Context) -> str:
    draft = draft_of(context)
    step = draft.get("step", "category")
    if step in ("category", "services"):
        return await show_categories(update, context)
    if step == "detail":
        return await show_services(update, context)
    service = await shop_of(context).catalog.get(draft.get("service_id", 0))
    if service is None:
        return await show_categories(update, context)
    steps = steps_for(service, draft)
    if step == "confirm":
        return await ask(update, context, steps[-1], edit=True)
    i = steps.index(step) if step in steps else 0
    if i == 0:
        return await show_detail(update, context, service)
    return await ask(update, context, steps[i - 1], edit=True)


async def on_button(update: Update, context: Context) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    action, arg = parts[1], (parts[2] if len(parts) > 2 else "")
    draft = draft_of(context)
    step = draft.get("step")
    lg = lang(update)
    if action == "x":
        return await cancel(update, context)
    if action == "ok":
        return await confirm(update, context, arg)
    if action == "new":
        await answer(update)
        return await start_order(update, context)
    if action == "card":
        return await reshow_card(update, context, arg)
    await answer(update)
    if action == "back":
        return await back(update, context)
    if action == "cat" and CATEGORY_KEY.fullmatch(arg):
        draft.update(cat=arg, page=0)
        return await show_services(update, context)
    if action == "pg" and arg.isdigit() and step == "services":
        draft["page"] = int(arg)
        return await show_services(update, context)
    if action == "svc" and arg.isdigit():
        service = await shop_of(context).catalog.get(int(arg))
        if service is None or not service.sellable:
            await reply(update, t(lg, "service.unavailable"))
            return await show_categories(update, context)
        return await show_detail(update, context, service)
    service = await shop_of(context).catalog.get(draft.get("service_id", 0))
    if service is None or not service.sellable:
        await reply(update, t(lg, "service.unavailable"))
        return await show_categories(update, context)
    if action == "buy" and step == "detail":
        for key in ("link", "quantity", "drip", "runs", "interval", "comments", "username",
                    "sub_min", "sub_max", "sub_posts", "sub_delay", "sub_expiry"):  # fmt: skip
            draft.pop(key, None)
        return await ask(update, context, steps_for(service, draft)[0], edit=True)
    if action == "drip" and step == "drip":
        draft["drip"] = arg == "1"
        return await next_step(update, context, service, edit=True)
    if action == "int" and step == "interval" and arg.isdigit():
        draft["interval"] = int(arg)
        return await next_step(update, context, service, edit=True)
    if action == "dly" and step == "sub_delay" and arg.isdigit():
        draft["sub_delay"] = int(arg)
        return await next_step(update, context, service, edit=True)
    if action == "noexp" and step == "sub_expiry":
        draft["sub_expiry"] = None
        return await next_step(update, context, service, edit=True)
    # A button from an earlier message that no longer fits: ask the current question.
    return await ask(update, context, step or "category")


def parse_step(step: str, text: str, service: Service, draft: dict[str, Any]) -> Any:
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
        if value < (draft.get("sub_min") or 0):
            raise InputError("sub.max_below_min", {"min": draft.get("sub_min") or 0})
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


async def on_text(update: Update, context: Context) -> str:
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    lg = lang(update)
    draft = draft_of(context)
    step = draft.get("step") or "category"
    if step in BUTTON_STEPS and step != "confirm":
        await reply(update, t(lg, "order.use_buttons"))
        return await ask(update, context, step)
    if step == "confirm":
        await reply(update, t(lg, "order.use_buttons"))
        return step
    service = await shop_of(context).catalog.get(draft.get("service_id", 0))
    if service is None or not service.sellable:
        await reply(update, t(lg, "service.unavailable"))
        return await show_categories(update, context)
    limit = MAX_INPUT_CHARS * 4 if step == "comments" else MAX_INPUT_CHARS
    if len(msg.text) > limit:
        await reply(update, t(lg, "order.too_long", max=limit))
        return await ask(update, context, step)
    try:
        draft[step] = parse_step(step, msg.text, service, draft)
    except InputError as err:
        await reply(update, t(lg, err.code, **err.params))
        return await ask(update, context, step)
    return await next_step(update, context, service, edit=False)


async def on_not_text(update: Update, context: Context) -> str:
    """A sticker, photo… where a typed answer is expected: say so, ask again."""
    await reply(update, t(lang(update), "common.text_expected"))
    return await ask(update, context, draft_of(context).get("step") or "category")


async def on_other_menu(update: Update, context: Context) -> int:
    """Another main-menu label mid-order: stop the order; the customer presses it again."""
    clear_draft(context)
    lg = lang(update)
    await reply(update, t(lg, "order.left_for_menu"), main_menu(lg))
    return END


async def on_start_command(update: Update, context: Context) -> int:
    from handlers.front import on_command  # the greeting is the shared conversation's

    clear_draft(context)
    await on_command(update, context)
    return END


async def on_timeout(update: object, context: Context) -> None:
    clear_draft(context)
    if isinstance(update, Update) and update.effective_chat is not None:
        lg = lang(update)
        await update.effective_chat.send_message(t(lg, "common.timeout"),
                                                 reply_markup=main_menu(lg))  # fmt: skip


async def on_stale_button(update: Update, context: Context) -> None:
    """``o:`` buttons outside the conversation: a late confirm is still answered."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if query.data.startswith("o:ok:"):
        await confirm(update, context, query.data.split(":", 2)[2])
        return
    if query.data == "o:new":
        await answer(update)
        await start_order(update, context)
        return
    if query.data.startswith("o:card:"):
        await reshow_card(update, context, query.data.split(":", 2)[2])
        return
    await answer(update, t(lang(update), "common.expired_button"), alert=True)


async def reshow_card(update: Update, context: Context, token: str) -> str | int:
    """After a top-up: the same confirmation card again (same token, same price)."""
    lg = lang(update)
    user = await customer(update, context)
    shop = shop_of(context)
    q = await shop.orders.get_quote(user.id, token)
    if q is None or q.expires_at < shop.ctx.now_iso() or not q.service.sellable:
        await answer(update, t(lg, "common.expired_button"), alert=True)
        return ConversationHandler.END
    await answer(update)
    rows = [[button(t(lg, "order.confirm"), "o", "ok", q.token),
             button(t(lg, "common.cancel"), "o", "x")]]  # fmt: skip
    await reply(update, card_text(lg, q), inline(rows))
    return "confirm"


def other_menu_filter() -> filters.BaseFilter:
    pattern = "|".join(menu_pattern(k) for k in MENU_KEYS if k != "order")
    return filters.Regex(pattern)


def build() -> ConversationHandler:
    step_handlers = [
        CallbackQueryHandler(on_button, pattern=r"^o:"),
        MessageHandler(filters.TEXT & other_menu_filter(), on_other_menu),
        MessageHandler(filters.TEXT & ~filters.COMMAND, on_text),
        MessageHandler(~filters.TEXT & ~filters.COMMAND, on_not_text),
    ]
    return ConversationHandler(
        name="order",
        persistent=True,
        entry_points=[
            MessageHandler(filters.Regex(menu_pattern("order")), start_order),
            CommandHandler("order", start_order),
        ],
        states={
            **{step: step_handlers for step in ALL_STEPS},
            ConversationHandler.TIMEOUT: [TypeHandler(Update, on_timeout)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CommandHandler("start", on_start_command),
        ],
        allow_reentry=True,
        conversation_timeout=IDLE_SECONDS,
    )


def register(app: Application) -> None:
    app.add_handler(build())
    app.add_handler(CallbackQueryHandler(on_stale_button, pattern=r"^o:"))
