"""The admin console in chat: top-up decisions, review queue, stats, services, customer
lookup with balance adjustment, broadcast.

Who is an admin is checked when each update runs (here, and again in shop/admin.py and
shop/topups.py). A non-admin gets the same answer as for any unknown input: nothing is
done, nothing revealed, the attempt is logged.

Top-up alerts: the notifier sends one alert per admin; the message ids are not stored.
On a decision we edit the message the admin pressed and send every other admin a short
"처리됨" note: robust (no extra state, works after restarts) and nobody acts on a stale
alert, because pressing it again only reports who decided (compare-and-set in the shop).

Callback data: ``a:tp:ok|no:<id>``, ``a:m:<section>``, ``a:rv:att|ref:<order>``,
``a:sv:sync``, ``a:sv:vis:<id>``, ``a:sv:pr:<id>``, ``a:lu:adj:<user>``,
``a:adj:ok|no:<token>``, ``a:bc:ok|no:<token>``.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from chat.i18n import Safe, t
from chat.news import render as render_news
from handlers.common import (
    Context,
    answer,
    button,
    inline,
    lang,
    main_menu,
    reply,
    shop_of,
    show,
)
from shop.admin import (
    AdminService,
    check_reason,
    parse_adjustment,
    parse_markup,
    parse_price_override,
    user_label,
)
from shop.context import new_token
from shop.models import Order, Service
from shop.parsing import InputError
from shop.topups import Decision, Topup, decided_alert

log = logging.getLogger(__name__)

REJECT_REASON, PANEL_ID, PRICE, LOOKUP, ADJ_AMOUNT, ADJ_REASON, BC_TEXT, MARKUP, SV_QUERY = range(9)
REFUND_REASON = 9
TIMEOUT_SECONDS = 15 * 60
LG = "ko"  # the console speaks Korean; admins are the shop's staff
PROGRESS_MAX_SECONDS = 6 * 3600
# Pages are sized so that a page fits Telegram's limits whatever the panel or the
# customers typed (4,096 characters, 100 buttons): every shown value is cut to a bound.
SERVICES_PER_PAGE = 10
QUEUE_PER_PAGE = 5
TOPUPS_PER_PAGE = 8
NAME_SHOWN = 200  # a service name in a list (real panels' names run up to ~200)
SHORT = 60  # a category, a service name or a link in a compact queue line
NAME_ON_CARD = 1000  # a service name on an order's own card
LINK_ON_CARD = 2100  # a link on an order's own card (the shop takes at most 2,048)
KEEP_QUERIES = 8  # recent service searches kept for their page buttons


def admin_service(context: Context) -> AdminService:
    return shop_of(context).admin


def _tg_id(update: Update) -> int:
    return update.effective_user.id if update.effective_user else 0


def _is_admin(update: Update, context: Context) -> bool:
    return shop_of(context).is_admin(_tg_id(update))


def admins_only(handler: Callable[[Update, Context], Awaitable[Any]]) -> Callable:
    """Checked at execution time: anyone else gets the customer's answer to unknown input,
    nothing is done and the attempt is logged. (END also works for plain handlers: PTB
    ignores their return value.)"""

    @functools.wraps(handler)
    async def guarded(update: Update, context: Context) -> Any:
        if not _is_admin(update, context):
            query = update.callback_query
            what = query.data if query else (update.effective_message.text or "")
            await _refuse(update, what or handler.__name__)
            return ConversationHandler.END
        return await handler(update, context)

    return guarded


async def _refuse(update: Update, what: str) -> None:
    """Exactly what a customer gets for unknown input; the attempt is logged."""
    log.warning("non-admin %s tried admin action %s", _tg_id(update), what)
    if update.callback_query is not None:
        await answer(update)
        return
    lg = lang(update)
    await reply(update, t(lg, "common.unknown"), main_menu(lg))


def _data(update: Update) -> list[str]:
    return (update.callback_query.data or "").split(":")


def _draft(context: Context) -> dict:
    return context.user_data.setdefault("admin", {})


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters (escaping adds none: Telegram counts parsed text).
    In list lines a panel's line breaks would break the list: they become spaces."""
    text = " ".join(text.split()) if limit <= NAME_SHOWN else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _clamp(page: int, pages: int) -> int:
    return min(max(page, 0), pages - 1)


def _nav(page: int, pages: int, *prefix: object) -> list:
    """⏮ ◀ ▶ ⏭ for a paged list; the callback data ends with the page to show."""
    row = []
    if page > 0:
        if page > 1:
            row.append(button(t(LG, "admin.first"), *prefix, 0))
        row.append(button(t(LG, "admin.prev"), *prefix, page - 1))
    if page < pages - 1:
        row.append(button(t(LG, "admin.next"), *prefix, page + 1))
        if page < pages - 2:
            row.append(button(t(LG, "admin.last"), *prefix, pages - 1))
    return row


# ---- /admin menu --------------------------------------------------------------------


def _menu_markup():
    sections = ("tp", "rv", "st", "sv", "lu", "bc")
    return inline([[button(t(LG, f"admin.menu_{s}"), "a", "m", s)] for s in sections])


@admins_only
async def admin_menu(update: Update, context: Context) -> None:
    await answer(update)
    markup = _menu_markup()
    # A fresh one-time login link to the web console (when it is served) as a URL button.
    link = await shop_of(context).access.login_link(_tg_id(update))
    if link:
        console = InlineKeyboardButton(t(LG, "admin.console"), url=link)
        markup = InlineKeyboardMarkup([*markup.inline_keyboard, [console]])
    await show(update, t(LG, "admin.menu"), markup)


@admins_only
async def section(update: Update, context: Context) -> None:
    await answer(update)
    name = _data(update)[2]
    render = {"tp": _pending_topups, "rv": _review_queue, "st": _stats, "sv": _services}
    if name in render:
        await render[name](update, context)


@admins_only
async def page(update: Update, context: Context) -> None:
    """Another page of a queue or of the services list (the page is the last part)."""
    await answer(update)
    data = _data(update)
    number = int(data[-1])
    if data[1] == "tp":
        await _pending_topups(update, context, number)
    elif data[1] == "rv":
        await _review_queue(update, context, number)
    else:
        await _services(update, context, number, data[3])


# ---- top-ups ------------------------------------------------------------------------


def _topup_line(p: Topup) -> str:
    return t(LG, "admin.topup_line", id=str(p.id), amount=p.amount,
             depositor=_cut(p.depositor or "", SHORT))  # fmt: skip


async def _card_topups(context: Context) -> str:
    """Recent card top-ups (paid, nothing to decide): amount, method, customer, receipt."""
    paid = await shop_of(context).cards.recent_paid(10)
    if not paid:
        return ""
    lines = [t(LG, "admin.card_title")]
    for c in paid:
        receipt = c.topup.receipt_url or ""
        link = (Safe(f'<a href="{html.escape(receipt)}">{t(LG, "admin.card_receipt")}</a>')
                if receipt.startswith("https://") else "")  # fmt: skip
        lines.append(t(LG, "admin.card_line", id=str(c.topup.id), amount=c.topup.amount,
                       method=_cut(c.topup.pay_method or "카드", SHORT),
                       customer=_cut(c.customer, SHORT),
                       when=c.paid_at.strftime("%m/%d %H:%M"), receipt=link))  # fmt: skip
    return "\n\n" + "\n".join(lines)


async def _pending_topups(update: Update, context: Context, number: int = 0) -> None:
    pending = [p for p in await shop_of(context).topups.pending() if p.method == "bank"]
    cards = await _card_topups(context)
    if not pending:
        await show(update, t(LG, "admin.no_pending") + cards, _menu_markup())
        return
    pages = _pages(len(pending), TOPUPS_PER_PAGE)
    number = _clamp(number, pages)
    shown = pending[number * TOPUPS_PER_PAGE : (number + 1) * TOPUPS_PER_PAGE]
    head = t(LG, "admin.pending_title") + " " + t(LG, "admin.page_of", page=number + 1,
                                                   pages=pages, total=len(pending))  # fmt: skip
    rows = [
        [button(t(LG, "admin.approve_n", id=str(p.id)), "a", "tp", "ok", p.id),
         button(t(LG, "admin.reject_n", id=str(p.id)), "a", "tp", "no", p.id)]
        for p in shown
    ]  # fmt: skip
    rows.append(_nav(number, pages, "a", "tp", "p"))
    text = "\n".join([head, *(_topup_line(p) for p in shown)]) + cards
    await show(update, text, inline(rows))


async def _decided_text(context: Context, topup: Topup) -> str:
    """The same text every admin's copy of the alert gets (chat.news: admin_topup_decided)."""
    who = await shop_of(context).topups.decider_name(topup.decided_by)
    return render_news("admin_topup_decided", {"lang": LG, **decided_alert(topup, who)}).text


@admins_only
async def approve(update: Update, context: Context) -> None:
    topup_id = int(_data(update)[3])
    result = await shop_of(context).topups.approve(topup_id, _tg_id(update))
    if result.decision == Decision.FORBIDDEN:
        await _refuse(update, f"approve {topup_id}")
        return
    if result.decision == Decision.NOT_FOUND or result.topup is None:
        await answer(update, t(LG, "admin.not_found"), alert=True)
        return
    text = await _decided_text(context, result.topup)
    if result.decision == Decision.ALREADY:
        await answer(update, t(LG, "admin.already_decided"), alert=True)
        await show(update, text)
        return
    await answer(update, t(LG, "admin.approved_toast"))
    await show(update, text + "\n" + t(LG, "admin.balance_line", balance=result.balance or 0))


@admins_only
async def ask_reject_reason(update: Update, context: Context) -> int:
    topup_id = int(_data(update)[3])
    topup = await shop_of(context).topups.get(topup_id)
    if topup is None or topup.status != "pending":
        await answer(update, t(LG, "admin.already_decided"), alert=True)
        if topup is not None:
            await show(update, await _decided_text(context, topup))
        return ConversationHandler.END
    await answer(update)
    _draft(context)["reject"] = topup_id
    await reply(update, t(LG, "admin.ask_reject_reason", id=topup_id, amount=topup.amount))
    return REJECT_REASON


async def got_reject_reason(update: Update, context: Context) -> int:
    topup_id = _draft(context).get("reject")
    if not isinstance(topup_id, int):
        return ConversationHandler.END
    try:
        reason = check_reason(update.effective_message.text)
    except InputError as exc:
        await reply(update, t(LG, exc.code) + "\n" + t(LG, "admin.ask_reject_reason_again"))
        return REJECT_REASON
    result = await shop_of(context).topups.reject(topup_id, _tg_id(update), reason)
    _draft(context).pop("reject", None)
    if result.decision == Decision.FORBIDDEN:
        await _refuse(update, f"reject {topup_id}")
        return ConversationHandler.END
    if result.topup is None:
        await reply(update, t(LG, "admin.not_found"))
        return ConversationHandler.END
    text = await _decided_text(context, result.topup)
    if result.decision == Decision.ALREADY:
        await reply(update, t(LG, "admin.already_decided") + "\n" + text)
        return ConversationHandler.END
    await reply(update, text)
    return ConversationHandler.END


# ---- review queue -------------------------------------------------------------------


def _review_buttons(o: Order) -> list:
    return [button(t(LG, "admin.attach_n", id=str(o.id)), "a", "rv", "att", o.id),
            button(t(LG, "admin.refund_n", id=str(o.id)), "a", "rv", "ref", o.id)]  # fmt: skip


async def _review_queue(update: Update, context: Context, number: int = 0) -> None:
    """A compact page: each order's line is cut short, its full link and service name are
    on its own card (🔍), and its two buttons are on the page whatever the lengths."""
    queue = await admin_service(context).review_queue(_tg_id(update))
    if not queue:
        await show(update, t(LG, "admin.no_review"), _menu_markup())
        return
    pages = _pages(len(queue), QUEUE_PER_PAGE)
    number = _clamp(number, pages)
    shown = queue[number * QUEUE_PER_PAGE : (number + 1) * QUEUE_PER_PAGE]
    lines = [
        t(LG, "admin.review_line", id=str(o.id),
          service=_cut(o.service_name or str(o.service_id), SHORT),
          link=_cut(o.link or o.username or "", SHORT), quantity=o.quantity, price=o.price)
        for o in shown
    ]  # fmt: skip
    rows = [
        [button(t(LG, "admin.open_n", id=str(o.id)), "a", "rv", "o", o.id), *_review_buttons(o)]
        for o in shown
    ]
    rows.append(_nav(number, pages, "a", "rv", "p"))
    head = t(LG, "admin.review_title") + " " + t(LG, "admin.page_of", page=number + 1,
                                                  pages=pages, total=len(queue))  # fmt: skip
    await show(update, "\n".join([head, *lines]), inline(rows))


@admins_only
async def open_review(update: Update, context: Context) -> None:
    """One order of the review queue on its own card: the full link and service name."""
    await answer(update)
    order_id = int(_data(update)[3])
    order = next(
        (o for o in await admin_service(context).review_queue(_tg_id(update)) if o.id == order_id),
        None,
    )
    if order is None:
        await answer(update, t(LG, "admin.not_found"), alert=True)
        return
    text = t(LG, "admin.review_card", id=str(order.id),
             service=_cut(order.service_name or str(order.service_id), NAME_ON_CARD),
             link=_cut(order.link or order.username or "", LINK_ON_CARD), quantity=order.quantity,
             price=order.price)  # fmt: skip
    rows = [_review_buttons(order), [button(t(LG, "admin.back_to_list"), "a", "rv", "p", 0)]]
    await reply(update, text, inline(rows))


@admins_only
async def ask_refund_reason(update: Update, context: Context) -> int:
    return await _ask_for(update, context, "refund", "admin.ask_refund_reason", REFUND_REASON)


async def got_refund_reason(update: Update, context: Context) -> int:
    """A manual refund of an unfinished order; the reason goes to the audit log."""
    order_id = int(_draft(context).get("refund", 0))
    try:
        result = await admin_service(context).refund_order(
            _tg_id(update), order_id, update.effective_message.text or ""
        )
    except InputError as exc:
        prompt = t(LG, "admin.ask_refund_reason", id=order_id)
        await reply(update, t(LG, exc.code, **exc.params) + "\n" + prompt)
        return REFUND_REASON
    _draft(context).pop("refund", None)
    if result.decision == Decision.DONE:
        await reply(update, t(LG, "admin.refunded", id=order_id, amount=result.order.refunded))
    elif result.decision == Decision.FORBIDDEN:
        await _refuse(update, f"refund {order_id}")
    else:
        status = result.order.status if result.order else "?"
        await reply(update, t(LG, "admin.review_already", id=order_id, status=status))
    return ConversationHandler.END


async def _ask_for(update: Update, context: Context, key: str, prompt: str, state: int) -> int:
    """A button that asks an admin to type something about the id in its callback data."""
    await answer(update)
    target = int(_data(update)[3])
    _draft(context)[key] = target
    await reply(update, t(LG, prompt, id=target))
    return state


@admins_only
async def ask_panel_id(update: Update, context: Context) -> int:
    return await _ask_for(update, context, "attach", "admin.ask_panel_id", PANEL_ID)


async def got_panel_id(update: Update, context: Context) -> int:
    order_id = int(_draft(context).get("attach", 0))
    try:
        result = await admin_service(context).attach_panel_order(
            _tg_id(update), order_id, update.effective_message.text or ""
        )
    except InputError as exc:
        await reply(update, t(LG, exc.code) + "\n" + t(LG, "admin.ask_panel_id", id=order_id))
        return PANEL_ID
    _draft(context).pop("attach", None)
    if result.decision == Decision.DONE:
        await reply(update, t(LG, "admin.attached", id=order_id,
                              panel_id=result.order.panel_order_id or ""))  # fmt: skip
    elif result.decision == Decision.NOT_FOUND and result.error:
        await reply(update, t(LG, "admin.panel_check_failed", error=result.error))
    elif result.decision == Decision.FORBIDDEN:
        await _refuse(update, f"attach {order_id}")
    else:
        status = result.order.status if result.order else "?"
        await reply(update, t(LG, "admin.review_already", id=order_id, status=status))
    return ConversationHandler.END


# ---- stats --------------------------------------------------------------------------


async def _stats(update: Update, context: Context) -> None:
    svc = admin_service(context)
    stats = await svc.stats(_tg_id(update))
    if stats is None:
        return
    parts = [t(LG, "admin.stats_title", customers=stats.customers)]
    for key, p in stats.periods.items():
        parts.append(t(LG, "admin.stats_period", period=t(LG, f"admin.period_{key}"),
                       orders=p.orders, revenue=p.revenue, refunds=p.refunds, margin=p.margin,
                       new=p.new_customers))  # fmt: skip
    panel = await svc.panel_balance()
    parts.append(t(LG, "admin.panel_balance", balance=panel or t(LG, "admin.unavailable")))
    await show(update, "\n\n".join(parts), _menu_markup())


# ---- services -----------------------------------------------------------------------


def _query_id(context: Context, query: str) -> str:
    """A short key for a search, so its page buttons stay within 64 bytes."""
    queries: dict[str, str] = _draft(context).setdefault("sv_queries", {})
    for key, known in queries.items():
        if known == query:
            return key
    key = new_token()[:8]
    queries[key] = query
    while len(queries) > KEEP_QUERIES:
        queries.pop(next(iter(queries)))
    return key


def services_page(
    services: list[Service], prices: dict[int, int], markup: str, query: str, qid: str, number: int
) -> tuple[str, InlineKeyboardMarkup]:
    """One page of the services list (or of a search): the sync, markup and search buttons
    first, then each service's visibility and price buttons, then the page buttons."""
    pages = _pages(len(services), SERVICES_PER_PAGE)
    number = _clamp(number, pages)
    shown = services[number * SERVICES_PER_PAGE : (number + 1) * SERVICES_PER_PAGE]
    lines = [t(LG, "admin.services_title"), t(LG, "admin.markup_line", markup=markup)]
    if query:
        lines.append(t(LG, "admin.search_line", query=_cut(query, SHORT), total=len(services)))
    lines.append(t(LG, "admin.page_of", page=number + 1, pages=pages, total=len(services)))
    rows = [
        [button(t(LG, "admin.sync_now"), "a", "sv", "sync"),
         button(t(LG, "admin.markup_button"), "a", "sv", "mk"),
         button(t(LG, "admin.search_button"), "a", "sv", "q")],
    ]  # fmt: skip
    if not shown:
        lines.append(t(LG, "admin.search_none"))
    category = None
    for s in shown:
        if s.category != category:
            category = s.category
            lines.append(t(LG, "admin.category_line", category=_cut(category, SHORT)))
        eye = "👁" if s.visible else "🚫"
        custom = t(LG, "admin.custom") if s.price_override else ""
        lines.append(t(LG, "admin.service_line", eye=eye, id=str(s.id),
                       panel_id=_cut(s.panel_id, 20), name=_cut(s.name, NAME_SHOWN),
                       price=prices[s.id], custom=custom))  # fmt: skip
        price_label = t(LG, "admin.price_n", id=str(s.id))
        rows.append([button(f"{eye} #{s.id}", "a", "sv", "vis", s.id, qid, number),
                     button(price_label, "a", "sv", "pr", s.id)])  # fmt: skip
    rows.append(_nav(number, pages, "a", "sv", "l", qid))
    return "\n".join(lines), inline(rows)


async def _services(update: Update, context: Context, number: int = 0, qid: str = "-") -> None:
    query = "" if qid == "-" else _draft(context).get("sv_queries", {}).get(qid, "")
    found = await admin_service(context).find_services(_tg_id(update), query)
    catalog = shop_of(context).catalog
    start = _clamp(number, _pages(len(found), SERVICES_PER_PAGE)) * SERVICES_PER_PAGE
    prices = {s.id: catalog.price_per_1000(s) for s in found[start : start + SERVICES_PER_PAGE]}
    text, markup = services_page(
        found, prices, str(catalog.markup_percent), query, qid if query else "-", number
    )
    await show(update, text, markup)


@admins_only
async def ask_service_query(update: Update, context: Context) -> int:
    await answer(update)
    await reply(update, t(LG, "admin.ask_service_query"))
    return SV_QUERY


async def got_service_query(update: Update, context: Context) -> int:
    query = _cut((update.effective_message.text or "").strip(), 100)
    if not query:
        await reply(update, t(LG, "admin.ask_service_query"))
        return SV_QUERY
    await _services(update, context, 0, _query_id(context, query))
    return ConversationHandler.END


@admins_only
async def sync_services(update: Update, context: Context) -> None:
    await answer(update, t(LG, "admin.syncing"))
    try:
        report = await admin_service(context).sync_catalog(_tg_id(update))
    except Exception as exc:  # a panel failure must not kill the console
        log.warning("manual sync failed: %s", exc)
        await reply(update, t(LG, "admin.sync_failed", error=str(exc)[:200]))
        return
    if report is None:
        return
    await reply(update, t(LG, "admin.synced", new=report.new, updated=report.updated,
                          removed=report.removed, total=report.total))  # fmt: skip
    await _services(update, context)


@admins_only
async def toggle_visible(update: Update, context: Context) -> None:
    service_id = int(_data(update)[3])
    service = await shop_of(context).catalog.get(service_id)
    if service is None:
        await answer(update, t(LG, "admin.not_found"), alert=True)
        return
    await admin_service(context).set_visible(_tg_id(update), service_id, not service.visible)
    await answer(update)
    data = _data(update)  # a:sv:vis:<id>[:<query>:<page>]: show the same page again
    qid, number = (data[4], int(data[5])) if len(data) == 6 else ("-", 0)
    await _services(update, context, number, qid)


@admins_only
async def ask_price(update: Update, context: Context) -> int:
    return await _ask_for(update, context, "price", "admin.ask_price", PRICE)


async def got_price(update: Update, context: Context) -> int:
    service_id = int(_draft(context).get("price", 0))
    try:
        price = parse_price_override(update.effective_message.text)
    except InputError as exc:
        await reply(update, t(LG, exc.code, **exc.params) + "\n" + t(LG, "admin.ask_price",
                                                                       id=service_id))  # fmt: skip
        return PRICE
    _draft(context).pop("price", None)
    ok = await admin_service(context).set_price_override(_tg_id(update), service_id, price)
    await reply(update, t(LG, "admin.price_set" if ok else "admin.not_found",
                          id=service_id, price=price or 0))  # fmt: skip
    return ConversationHandler.END


@admins_only
async def ask_markup(update: Update, context: Context) -> int:
    await answer(update)
    current = str(shop_of(context).catalog.markup_percent)
    await reply(update, t(LG, "admin.ask_markup", markup=current))
    return MARKUP


async def got_markup(update: Update, context: Context) -> int:
    try:
        percent = parse_markup(update.effective_message.text)
    except InputError:
        await reply(update, t(LG, "admin.bad_markup"))
        return MARKUP
    shop = shop_of(context)
    if not await admin_service(context).set_markup(_tg_id(update), shop.catalog, percent):
        return ConversationHandler.END
    await reply(update, t(LG, "admin.markup_set", markup=str(percent)))
    await _services(update, context)
    return ConversationHandler.END


# ---- customer lookup and balance adjustment ----------------------------------------


@admins_only
async def ask_lookup(update: Update, context: Context) -> int:
    await answer(update)
    await reply(update, t(LG, "admin.ask_lookup"))
    return LOOKUP


async def got_lookup(update: Update, context: Context) -> int:
    if not _is_admin(update, context):
        return ConversationHandler.END
    shop = shop_of(context)
    query = (update.effective_message.text or "").strip()
    found = await shop.users.find(query)
    if not found:
        await reply(update, t(LG, "admin.lookup_none"))
        return LOOKUP
    if len(found) > 1:
        # A @username can be stale: never pick one of several customers silently.
        lines = [t(LG, "admin.lookup_ambiguous", name=_cut(query, SHORT), count=len(found))]
        lines += [t(LG, "admin.lookup_candidate", label=user_label(u), balance=u.balance)
                  for u in found]  # fmt: skip
        await reply(update, "\n".join(lines))
        return LOOKUP
    user = found[0]
    account = await shop.users.account(user.id, recent=5)
    orders = await admin_service(context).recent_orders(_tg_id(update), user.id)
    head = t(LG, "admin.customer", label=user_label(user), balance=user.balance,
             orders=account.order_count, spent=account.total_spent)  # fmt: skip
    lines = [head]
    lines += [t(LG, "admin.order_line", id=str(o.id), service=_cut(o.service_name or "", SHORT),
                status=t(LG, f"status.{o.status}"), price=o.price) for o in orders]  # fmt: skip
    lines += [t(LG, "admin.ledger_line", amount=f"{x.amount:+,}", kind=x.kind,
                after=x.balance_after, note=_cut(x.note or "", SHORT))
              for x in account.recent]  # fmt: skip
    markup = inline([[button(t(LG, "admin.adjust"), "a", "lu", "adj", user.id)]])
    await reply(update, "\n".join(lines), markup)
    return ConversationHandler.END


@admins_only
async def ask_adjust(update: Update, context: Context) -> int:
    await answer(update)
    _draft(context)["adjust"] = {"user_id": int(_data(update)[3])}
    await reply(update, t(LG, "admin.ask_adjust_amount"))
    return ADJ_AMOUNT


async def got_adjust_amount(update: Update, context: Context) -> int:
    try:
        amount = parse_adjustment(update.effective_message.text)
    except InputError as exc:
        await reply(update, t(LG, exc.code, **exc.params) + "\n" + t(LG, "admin.ask_adjust_amount"))
        return ADJ_AMOUNT
    _draft(context).setdefault("adjust", {})["amount"] = amount
    await reply(update, t(LG, "admin.ask_adjust_reason"))
    return ADJ_REASON


async def got_adjust_reason(update: Update, context: Context) -> int:
    try:
        reason = check_reason(update.effective_message.text)
    except InputError as exc:
        await reply(update, t(LG, exc.code) + "\n" + t(LG, "admin.ask_adjust_reason"))
        return ADJ_REASON
    draft = _draft(context).get("adjust") or {}
    user = await shop_of(context).users.get(int(draft.get("user_id", 0)))
    if user is None or "amount" not in draft:
        await reply(update, t(LG, "admin.not_found"))
        return ConversationHandler.END
    token = new_token()
    _draft(context)["adjust"] = {}
    _draft(context).setdefault("confirm", {})[token] = {
        "user_id": user.id,
        "amount": draft["amount"],
        "reason": reason,
    }
    text = t(LG, "admin.adjust_preview", label=user_label(user), amount=f"{draft['amount']:+,}",
             balance=user.balance, after=user.balance + draft["amount"], reason=reason)  # fmt: skip
    markup = inline([[button(t(LG, "admin.confirm"), "a", "adj", "ok", token),
                      button(t(LG, "admin.cancel"), "a", "adj", "no", token)]])  # fmt: skip
    await reply(update, text, markup)
    return ConversationHandler.END


@admins_only
async def confirm_adjust(update: Update, context: Context) -> None:
    _, _, verb, token = _data(update)
    pending = _draft(context).setdefault("confirm", {})
    draft = pending.get(token)
    if verb == "no" or draft is None:
        pending.pop(token, None)
        await answer(update)
        await show(update, t(LG, "admin.cancelled" if verb == "no" else "admin.adjust_done_before"))
        return
    try:
        result = await admin_service(context).adjust_balance(
            _tg_id(update), draft["user_id"], draft["amount"], draft["reason"], token
        )
    except InputError as exc:
        await answer(update, t(LG, exc.code, **exc.params), alert=True)
        return
    pending.pop(token, None)
    await answer(update)
    key = "admin.adjusted" if result.decision == Decision.DONE else "admin.adjust_done_before"
    await show(update, t(LG, key, balance=result.balance or 0))


# ---- broadcast ----------------------------------------------------------------------


@admins_only
async def ask_broadcast(update: Update, context: Context) -> int:
    await answer(update)
    await reply(update, t(LG, "admin.ask_broadcast"))
    return BC_TEXT


async def got_broadcast(update: Update, context: Context) -> int:
    text = (update.effective_message.text or "").strip()
    if not text or len(text) > 3500:
        await reply(update, t(LG, "admin.broadcast_length"))
        return BC_TEXT
    token = new_token()
    _draft(context)["broadcast"] = {"token": token, "text": html.escape(text, quote=False)}
    preview = t(LG, "admin.broadcast_preview", text=text)
    markup = inline([[button(t(LG, "admin.send"), "a", "bc", "ok", token),
                      button(t(LG, "admin.cancel"), "a", "bc", "no", token)]])  # fmt: skip
    await reply(update, preview, markup)
    return ConversationHandler.END


@admins_only
async def confirm_broadcast(update: Update, context: Context) -> None:
    _, _, verb, token = _data(update)
    draft = _draft(context).get("broadcast") or {}
    await answer(update)
    if verb == "no" or draft.get("token") != token:
        if verb == "no":
            _draft(context).pop("broadcast", None)
        await show(update, t(LG, "admin.cancelled" if verb == "no" else "admin.broadcast_gone"))
        return
    _draft(context).pop("broadcast", None)
    queued = await admin_service(context).broadcast(_tg_id(update), token, draft["text"])
    await show(update, t(LG, "admin.broadcast_queued", total=queued))
    msg = await reply(update, t(LG, "admin.progress", sent=0, failed=0, total=queued))
    if msg is not None and queued:
        context.application.create_task(
            _follow_progress(context, msg.chat_id, msg.message_id, token, queued),
            name=f"broadcast-progress-{token}",
        )


async def _follow_progress(
    context: Context, chat_id: int, message_id: int, token: str, total: int
) -> None:
    """Edit one message as the notifier sends the rows (it paces the sending)."""
    svc = admin_service(context)
    interval = float(context.bot_data.get("broadcast_progress_interval", 2.0))
    shown = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PROGRESS_MAX_SECONDS
    while loop.time() < deadline:
        counts = await svc.broadcast_progress(token)
        sent = counts.get("sent", 0) + counts.get("skipped", 0)
        finished = counts.get("pending", 0) == 0
        key = "admin.progress_done" if finished else "admin.progress"
        text = t(LG, key, sent=sent, failed=counts.get("failed", 0), total=total)
        if text != shown:
            try:
                await context.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML
                )
                shown = text
            except BadRequest as exc:
                log.info("progress edit failed: %s", exc)
        if finished:
            return
        await asyncio.sleep(interval)


# ---- wiring -------------------------------------------------------------------------


async def cancel(update: Update, context: Context) -> int:
    context.user_data.pop("admin", None)
    lg = lang(update)
    await reply(update, t(lg, "common.cancelled"), main_menu(lg))
    return ConversationHandler.END


def register(app: Application) -> None:
    text = filters.TEXT & ~filters.COMMAND
    conv = ConversationHandler(
        name="admin",
        persistent=True,
        allow_reentry=True,
        conversation_timeout=TIMEOUT_SECONDS,
        entry_points=[
            CallbackQueryHandler(ask_reject_reason, pattern=r"^a:tp:no:\d+$"),
            CallbackQueryHandler(ask_panel_id, pattern=r"^a:rv:att:\d+$"),
            CallbackQueryHandler(ask_refund_reason, pattern=r"^a:rv:ref:\d+$"),
            CallbackQueryHandler(ask_price, pattern=r"^a:sv:pr:\d+$"),
            CallbackQueryHandler(ask_markup, pattern=r"^a:sv:mk$"),
            CallbackQueryHandler(ask_lookup, pattern=r"^a:m:lu$"),
            CallbackQueryHandler(ask_adjust, pattern=r"^a:lu:adj:\d+$"),
            CallbackQueryHandler(ask_broadcast, pattern=r"^a:m:bc$"),
            CallbackQueryHandler(ask_service_query, pattern=r"^a:sv:q$"),
        ],
        states={
            REJECT_REASON: [MessageHandler(text, got_reject_reason)],
            PANEL_ID: [MessageHandler(text, got_panel_id)],
            REFUND_REASON: [MessageHandler(text, got_refund_reason)],
            PRICE: [MessageHandler(text, got_price)],
            MARKUP: [MessageHandler(text, got_markup)],
            LOOKUP: [MessageHandler(text, got_lookup)],
            ADJ_AMOUNT: [MessageHandler(text, got_adjust_amount)],
            ADJ_REASON: [MessageHandler(text, got_adjust_reason)],
            BC_TEXT: [MessageHandler(text, got_broadcast)],
            SV_QUERY: [MessageHandler(text, got_service_query)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
    )
    app.add_handler(CommandHandler("admin", admin_menu))
    app.add_handler(conv)
    app.add_handler(CallbackQueryHandler(approve, pattern=r"^a:tp:ok:\d+$"))
    app.add_handler(CallbackQueryHandler(section, pattern=r"^a:m:\w+$"))
    app.add_handler(CallbackQueryHandler(sync_services, pattern=r"^a:sv:sync$"))
    app.add_handler(CallbackQueryHandler(toggle_visible, pattern=r"^a:sv:vis:\d+(:[\w-]+:\d+)?$"))
    app.add_handler(CallbackQueryHandler(page, pattern=r"^a:(tp|rv):p:\d+$|^a:sv:l:[\w-]+:\d+$"))
    app.add_handler(CallbackQueryHandler(open_review, pattern=r"^a:rv:o:\d+$"))
    app.add_handler(CallbackQueryHandler(confirm_adjust, pattern=r"^a:adj:(ok|no):[\w-]+$"))
    app.add_handler(CallbackQueryHandler(confirm_broadcast, pattern=r"^a:bc:(ok|no):[\w-]+$"))
