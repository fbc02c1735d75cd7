"""Order history: a paged list, order details, refresh, A/S refill and cancel requests, and
"같은 상품 다시 주문" on a finished order.

Taps: ``h:p:<page>`` (list page), ``h:o:<id>`` (details), ``h:r:<id>`` (refresh),
``h:f:<id>`` (refill), ``h:c:<id>`` (cancel; also on the 48-hour notice), ``h:a:<id>``
(order the same again). Every order id is re-checked against the customer in the shop,
so forged data reveals nothing.
"""

from __future__ import annotations

from chat import htmltext
from chat import order as ordering
from chat.home import local_time
from chat.i18n import Safe
from chat.screens import Choice
from chat.talk import Talk
from shop.models import Order

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


def _name(talk: Talk, order: Order) -> str:
    return order.service_name or talk.t("history.unknown_service")


def per_page(talk: Talk) -> int:
    return max(1, min(5, talk.caps.page_size, talk.caps.max_choices - 2))


def _list_item(talk: Talk, order: Order, room: int) -> str:
    text = talk.t_fit("history.item", room, shrink=("service",), id=str(order.id),
                      service=_name(talk, order), status=talk.t(f"status.{order.status}"),
                      used=order.amount_used)  # fmt: skip
    if order.progress is not None:
        text += "\n" + progress_bar(order.progress)
    return text


async def show_page(talk: Talk, page: int) -> None:
    size = per_page(talk)
    orders, total = await talk.shop.orders.history(talk.user.id, page, per_page=size)
    if total == 0:
        talk.show(talk.t("history.empty"), kind="history.empty")
        return
    pages = (total + size - 1) // size
    if not orders and page > 0:  # the list shrank under an old button
        await show_page(talk, pages - 1)
        return
    head = talk.t("history.title", page=page + 1, pages=pages, total=total)
    room = (talk.caps.text_limit - htmltext.visible_len(head)) // len(orders) - 20
    text = "\n\n".join([head, *(_list_item(talk, o, room) for o in orders)])
    rows: list[list[Choice]] = [[talk.choice("history.open", f"h:o:{o.id}", id=str(o.id))]
                                for o in orders]  # fmt: skip
    nav = []
    if page > 0:
        nav.append(talk.choice("history.prev", f"h:p:{page - 1}"))
    if page + 1 < pages:
        nav.append(talk.choice("history.next", f"h:p:{page + 1}"))
    rows.append(nav)
    talk.show(text, rows, kind="history.list")


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _details_text(talk: Talk, order: Order) -> str:
    target = order.link or (f"@{order.username}" if order.username else "-")
    room = talk.caps.text_limit // 2
    lines = [
        talk.t_fit("history.detail_title", room // 2, shrink=("service",), id=str(order.id),
                   service=_name(talk, order)),
        talk.t("history.detail_status", status=talk.t(f"status.{order.status}")),
        talk.t_fit("history.detail_target", room, shrink=("target",), target=target),
        talk.t("history.detail_quantity", quantity=order.quantity),
        talk.t("history.detail_price", price=order.price, refunded=order.refunded,
               used=order.amount_used),
    ]  # fmt: skip
    if order.start_count is not None or order.remains is not None:
        lines.append(talk.t("history.detail_counts", start=_num(order.start_count),
                            remains=_num(order.remains)))  # fmt: skip
    if order.progress is not None:
        lines.append(progress_bar(order.progress))
    when = local_time(order.created_at, talk.shop.settings.timezone)
    lines.append(talk.t("history.detail_created", when=when))
    return "\n".join(lines)


async def _details_rows(talk: Talk, order: Order) -> list[list[Choice]]:
    shop = talk.shop
    service = await shop.catalog.get(order.service_id)
    row = [talk.choice("history.refresh", f"h:r:{order.id}")]
    if service is not None and shop.orders.can_refill(order, service):
        row.append(talk.choice("history.refill", f"h:f:{order.id}"))
    if service is not None and await shop.orders.cancel_offered(order, service):
        row.append(talk.choice("history.cancel", f"h:c:{order.id}"))
    rows = [row]
    if order.finished and service is not None and service.sellable:
        rows.append([talk.choice("history.again", f"h:a:{order.id}")])
    rows.append([talk.choice("history.back", "h:p:0")])
    return rows


async def show_details(talk: Talk, order_id: int, note: str = "") -> None:
    order = await talk.shop.orders.get_for_user(talk.user.id, order_id)
    if order is None:
        talk.show(talk.t("history.not_found"), kind="history.not_found")
        return
    text = _details_text(talk, order)
    if note:
        text = note + "\n\n" + text
    talk.show(Safe(text), await _details_rows(talk, order), kind="history.detail")


async def _act(talk: Talk, action: str, order_id: int) -> None:
    orders = talk.shop.orders
    if action == "c":
        result = await orders.request_cancel(talk.user.id, order_id)
    else:
        result = await orders.request_refill(talk.user.id, order_id)
    key = RESULT_KEYS.get(result.code, "history.action_failed")
    if result.code == "cancel.not_allowed" and result.order and result.order.cancel_requested:
        key = "history.cancel_already"  # a second tap (or the 48-hour notice after a tap)
    note = talk.t(key)
    talk.note(note, alert=True)
    if result.order is None:  # not theirs or missing: say nothing more
        talk.show(note, kind="history.not_found")
        return
    await show_details(talk, order_id, note=note)


async def on_tap(talk: Talk, parts: list[str]) -> bool:
    if len(parts) != 3 or not parts[2].isdigit() or len(parts[2]) > 12:
        return False
    action, number = parts[1], int(parts[2])
    if action == "p":
        await show_page(talk, number)
    elif action in ("o", "r"):
        if action == "r":
            talk.note(talk.t("history.refreshed"))
        await show_details(talk, number)
    elif action in ("c", "f"):
        await _act(talk, action, number)
    elif action == "a":
        order = await talk.shop.orders.get_for_user(talk.user.id, number)
        if order is None:
            talk.show(talk.t("history.not_found"), kind="history.not_found")
            return True
        await ordering.again(talk, order)
    else:
        return False
    return True
