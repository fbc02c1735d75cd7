"""The entry point: one call per customer turn, whatever the front.

``Dialog(shop).handle(turn)`` routes the event (a command, a main-menu label, a tap on a
choice, typed text in the current step) to the flow that owns it and returns the Reply.
The state it returns is the whole conversation; the front stores it and hands it back.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable

from chat import home
from chat.menu import main_menu, menu_key
from chat.screens import Capabilities, Choice
from chat.talk import Talk
from chat.turns import Command, Media, Reply, Tap, Text, Turn
from shop.shop import Shop

log = logging.getLogger(__name__)

Step = Callable[[Talk], Awaitable[None]]

MENU: dict[str, Step] = {
    "account": home.account,
    "faq": home.faq,
    "terms": home.terms,
    "support": home.support,
}
COMMANDS: dict[str, Step] = {
    "start": home.start,
    "help": home.help_page,
    "balance": home.account,
}


class Dialog:
    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def main_menu(self, lang: str, caps: Capabilities) -> list[list[Choice]]:
        return main_menu(lang, caps)

    async def handle(self, turn: Turn) -> Reply:
        """Answer one turn. The turn's state is not changed; the reply carries the new one."""
        turn.state = copy.deepcopy(turn.state) if turn.state else {}
        talk = Talk(self.shop, turn)
        await _route(talk)
        talk.state["seq"] = int(talk.state.get("seq") or 0) + 1
        return talk.reply()


async def _route(talk: Talk) -> None:
    event = talk.event
    if isinstance(event, Command):
        step = COMMANDS.get(event.name)
        await (step or home.unknown)(talk)
    elif isinstance(event, Tap):
        await _tap(talk, event.data)
    elif isinstance(event, Text):
        key = menu_key(event.text)
        if key is not None and key in MENU:
            talk.end()
            await MENU[key](talk)
        else:
            await home.unknown(talk)
    elif isinstance(event, Media):
        await home.unknown(talk)
    else:
        await home.unknown(talk)


async def _tap(talk: Talk, data: str) -> None:
    head, _, rest = data.partition(":")
    if head == "m" and rest in MENU:
        talk.end()
        await MENU[rest](talk)
        return
    talk.note(talk.t("common.expired_button"), alert=True)
