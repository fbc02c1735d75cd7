"""Order history: a paginated list, order details, refresh, A/S refill and cancel requests.

Callback data: ``h:p:<page>`` (list page), ``h:o:<id>`` (details), ``h:r:<id>`` (refresh),
``h:f:<id>`` (refill), ``h:c:<id>`` (cancel; also sent by the 48-hour notice). Every
order id in a button is re-checked against the presser in the shop, so forged data
reveals nothing.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from chat.i18n import Safe, t
from handlers.common import (
    Context,
    answer,
    button,
    customer,
    inline,
    lang,
    menu_pattern,
    shop_of,
    show,
)
from shop.clock import parse_iso
from shop.models import Order

PER_PAGE = 5
BAR_CELLS = 10

# Result codes of shop.orders.request_cancel/request_refill → this feature's message keys.
RESULT_KEYS = {
    "order.not_found": "history.not_found",
    "cancel.not_allowed": "history.cancel_not_allowed",
    "cancel.failed": "history.cancel_failed",
    "cancel.refused": "history.cancel_refused",
    "cancel.requested": "history.cancel_requested",
    "cancel.forwarded": "history.cancel_forwarded",
    "refill.not_allowed": "history.refill_not_allowed",
    "refill.refused": "history.refill_refused",
    "refill.failed": "history.refill_failed",
    "refill.requested": "history.refill_requested",
}


def progress_bar(progress: float) -> str:
    filled = max(0, min(BAR_CELLS, round(progress * BAR_CELLS)))
    return "▓" * filled + "░" * (BAR_CELLS - filled) + f" {round(progress * 100)}%"


def local_time(iso_text: str, tz: str) -> str:
    when: datetime = parse_iso(iso_text).astimezone(ZoneInfo(tz))
    return when.strftime("%Y-%m-%d %H:%M")


def _name(lg: str, order: Order) -> str:
    return order.service_name or t(lg, "history.unknown_service")


def _list_item(lg: str, order: Order) -> str:
    text = t(lg, "history.item", id=order.id, service=_name(lg, order),
             status=t(lg, f"status.{order.status}"), used=order.amount_used)  # fmt: skip
    if order.progress is not None:
        text += "\n" + progress_bar(order.progress)
    return text


async def show_page(update: Update, context: Context, page: int) -> None:
    user = await customer(update, context)
    lg = lang(update)
    orders, total = await shop_of(context).orders.history(user.id, page, per_page=PER_PAGE)
    if total == 0:
        await show(update, t(lg, "history.empty"))
        return
    pages = (total + PER_PAGE - 1) // PER_PAGE
    if not orders and page > 0:  # the list shrank under an old button
        return await show_page(update, context, pages - 1)
    head = t(lg, "history.title", page=page + 1, pages=pages, total=total)
    text = "\n\n".join([head, *(_list_item(lg, o) for o in orders)])
    rows = [[button(t(lg, "history.open", id=o.id), "h", "o", o.id)] for o in orders]
    nav = []
    if page > 0:
        nav.append(button(t(lg, "history.prev"), "h", "p", page - 1))
    if page + 1 < pages:
        nav.append(button(t(lg, "history.next"), "h", "p", page + 1))
    await show(update, text, inline([*rows, nav]))


async def orders_menu(update: Update, context: Context) -> None:
    await show_page(update, context, 0)


def _details_text(lg: str, order: Order, tz: str) -> str:
    target = order.link or (f"@{order.username}" if order.username else "-")
    lines = [
        t(lg, "history.detail_title", id=order.id, service=_name(lg, order)),
        t(lg, "history.detail_status", status=t(lg, f"status.{order.status}")),
        t(lg, "history.detail_target", target=target),
        t(lg, "history.detail_quantity", quantity=order.quantity),
        t(
            lg,
            "history.detail_price",
            price=order.price,
            refunded=order.refunded,
            used=order.amount_used,
        ),
    ]
    if order.start_count is not None or order.remains is not None:
        lines.append(t(lg, "history.detail_counts", start=_num(order.start_count),
                       remains=_num(order.remains)))  # fmt: skip
    if order.progress is not None:
        lines.append(progress_bar(order.progress))
    lines.append(t(lg, "history.detail_created", when=local_time(order.created_at, tz)))
    return "\n".join(lines)


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


async def _details_markup(context: Context, lg: str, order: Order) -> InlineKeyboardMarkup:
    shop = shop_of(context)
    service = await shop.catalog.get(order.service_id)
    row = [button(t(lg, "history.refresh"), "h", "r", order.id)]
    if service is not None and shop.orders.can_refill(order, service):
        row.append(button(t(lg, "history.refill"), "h", "f", order.id))
    if service is not None and shop.orders.can_cancel(order, service):
        row.append(button(t(lg, "history.cancel"), "h", "c", order.id))
    return inline([row, [button(t(lg, "history.back"), "h", "p", 0)]])


async def show_details(update: Update, context: Context, order_id: int, note: str = "") -> None:
    user = await customer(update, context)
    lg = lang(update)
    shop = shop_of(context)
    order = await shop.orders.get_for_user(user.id, order_id)
    if order is None:
        await show(update, t(lg, "history.not_found"))
        return
    text = _details_text(lg, order, shop.settings.timezone)
    if note:
        text = note + "\n\n" + text
    await show(update, Safe(text), await _details_markup(context, lg, order))


async def on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        await answer(update, t(lang(update), "common.expired_button"))
        return
    action, number = parts[1], int(parts[2])
    if action == "p":
        await answer(update)
        await show_page(update, context, number)
    elif action in ("o", "r"):
        await answer(update, t(lang(update), "history.refreshed") if action == "r" else None)
        await show_details(update, context, number)
    elif action in ("c", "f"):
        await _act(update, context, action, number)
    else:
        await answer(update, t(lang(update), "common.expired_button"))


async def _act(update: Update, context: Context, action: str, order_id: int) -> None:
    user = await customer(update, context)
    lg = lang(update)
    orders = shop_of(context).orders
    if action == "c":
        result = await orders.request_cancel(user.id, order_id)
    else:
        result = await orders.request_refill(user.id, order_id)
    key = RESULT_KEYS.get(result.code, "history.action_failed")
    if result.code == "cancel.not_allowed" and result.order and result.order.cancel_requested:
        key = "history.cancel_already"  # a second tap (or the 48-hour notice after a tap)
    note = t(lg, key)
    await answer(update, note, alert=True)
    if result.order is None:  # not theirs or missing: say nothing more
        await show(update, note)
        return
    await show_details(update, context, order_id, note=note)


async def orders_command(update: Update, context: Context) -> None:
    await show_page(update, context, 0)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("orders", orders_command))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("orders")), orders_menu))
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^h:"))
