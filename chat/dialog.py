"""The entry point: one call per customer turn, whatever the front.

``Dialog(shop).handle(turn)`` routes the event — a command, a main-menu label, a tap on a
choice, typed text in the current step — to the flow that owns it and returns the Reply.
The state it returns is the whole conversation; the front stores it and hands it back.

Routing: a main-menu label or a home word ("시작", "메뉴", "처음으로") leaves any flow
(nothing is charged by a draft) and opens that page; "취소" typed in a flow cancels it
(it is not a link, a quantity or a depositor's name); taps are routed by their prefix
(``c`` catalog, ``o`` order, ``h`` history, ``t`` top-up, ``m`` main menu) whatever the
current step, because every tap carries what it needs; typed text goes to the current
step, and outside any flow a service number or words search the catalog. A flow left
idle for ``IDLE_SECONDS`` ends: at the next turn (every front), or when the front asks
(``expire``: Telegram schedules it, so the customer is told without writing first).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from chat import browse, history, home, order, topup
from chat.menu import is_cancel_word, is_home_word, main_menu, menu_key
from chat.screens import Capabilities, Choice
from chat.talk import Talk
from chat.turns import Command, Media, Paid, Reply, Tap, Text, Turn
from shop.clock import iso, parse_iso
from shop.models import User
from shop.shop import Shop

log = logging.getLogger(__name__)

IDLE_SECONDS = 15 * 60  # a flow left this long ends politely
MAX_HOME_SEARCH = 40  # longer typed text outside a flow is not a search

Step = Callable[[Talk], Awaitable[None]]


async def _orders(talk: Talk) -> None:
    await history.show_page(talk, 0)


async def _order(talk: Talk) -> None:
    talk.end()
    await browse.platforms(talk)


async def _cancel(talk: Talk) -> None:
    await order.cancel(talk)


MENU: dict[str, Step] = {
    "order": _order,
    "topup": topup.menu,
    "orders": _orders,
    "account": home.account,
    "faq": home.faq,
    "terms": home.terms,
    "support": home.support,
}
COMMANDS: dict[str, Step] = {
    "start": home.start,
    "help": home.help_page,
    "order": _order,
    "balance": home.account,
    "orders": _orders,
    "topup": topup.menu,
    "cancel": _cancel,
}
TAPS = {"c": browse.on_tap, "o": order.on_tap, "h": history.on_tap, "t": topup.on_tap}
TIMEOUT_KEYS = {"order": "common.timeout", "topup": "topup.timeout"}


class Dialog:
    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def main_menu(self, lang: str, caps: Capabilities) -> list[list[Choice]]:
        return main_menu(lang, caps)

    async def handle(self, turn: Turn) -> Reply:
        """Answer one turn. The turn's state is not changed; the reply carries the new one."""
        turn.state = copy.deepcopy(turn.state) if isinstance(turn.state, dict) else {}
        talk = Talk(self.shop, turn)
        self._expire_if_idle(talk)
        await _route(talk)
        talk.state["seq"] = int(talk.state.get("seq") or 0) + 1
        if talk.flow:
            talk.state["at"] = iso(self.shop.ctx.now())
        else:
            talk.state.pop("at", None)
        return talk.reply()

    def _expire_if_idle(self, talk: Talk) -> None:
        at = talk.state.get("at")
        if not talk.flow or not isinstance(at, str):
            return
        try:
            idle = self.shop.ctx.now() - parse_iso(at)
        except ValueError:
            idle = timedelta(seconds=IDLE_SECONDS + 1)
        if idle.total_seconds() <= IDLE_SECONDS:
            return
        flow = talk.flow
        talk.end()
        # Typed text was meant for the step that ended: say why it is not taken as such.
        if isinstance(talk.event, Text | Media) and flow in TIMEOUT_KEYS:
            talk.say(talk.t(TIMEOUT_KEYS[flow]), kind="timeout")

    def expire(self, user: User, lang: str, caps: Capabilities, state: dict) -> Reply | None:
        """End the flow in ``state`` now (the front saw it idle long enough); None when
        there is no flow. The reply tells the customer and carries the new state."""
        flow = state.get("flow") if isinstance(state, dict) else None
        if not flow:
            return None
        talk = Talk(self.shop, Turn(user, lang, caps, copy.deepcopy(state), Command("idle")))
        talk.end()
        talk.state.pop("at", None)
        talk.say(talk.t(TIMEOUT_KEYS.get(flow, "common.timeout")), menu=True, kind="timeout")
        return talk.reply()


async def _route(talk: Talk) -> None:
    event = talk.event
    if isinstance(event, Command):
        await COMMANDS.get(event.name, home.unknown)(talk)
    elif isinstance(event, Tap):
        await _tap(talk, event.data)
    elif isinstance(event, Text):
        await _text(talk, event.text)
    elif isinstance(event, Media):
        await _media(talk, event)
    elif isinstance(event, Paid):
        await topup.paid(talk, event)


async def _text(talk: Talk, text: str) -> None:
    key = menu_key(text)
    if key is not None:
        talk.end()
        await MENU[key](talk)
        return
    if is_home_word(text):
        await home.start(talk)
        return
    if talk.flow and is_cancel_word(text):  # not a link, a quantity or a depositor's name
        await order.cancel(talk)
        return
    if talk.flow == order.FLOW:
        await order.on_text(talk, text)
        return
    if talk.flow == topup.FLOW and await topup.on_text(talk, text):
        return
    talk.end()
    # Outside a flow, words (or "#123") may name a service: show it rather than a shrug.
    words = text.strip()
    if 1 < len(words) <= MAX_HOME_SEARCH and "/" not in words and not words.isdigit():
        if await browse.find(talk, words):
            return
        talk.end()
    await home.unknown(talk)


async def _media(talk: Talk, event: Media) -> None:
    if event.kind == "photo" and talk.flow == topup.FLOW and await topup.on_photo(talk, event.ref):
        return
    if talk.flow == order.FLOW:
        await order.on_media(talk)
        return
    await home.unknown(talk)


async def _tap(talk: Talk, data: str) -> None:
    parts = data.split(":")
    head = parts[0]
    if head == "m" and len(parts) == 2 and parts[1] in MENU:
        talk.end()
        await MENU[parts[1]](talk)
        return
    handler = TAPS.get(head)
    if handler is not None and await handler(talk, parts):
        return
    talk.note(talk.t("common.expired_button"), alert=True)
