"""The working context of one turn: the shop, the customer, the front's limits, the state
being changed and the screens being collected. Every flow module is written against it."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from chat import htmltext
from chat.i18n import t
from chat.screens import Choice, Screen, fit, shorten
from chat.turns import Effect, Reply, Tap, Turn
from shop.shop import Shop

ChoiceRows = Iterable[Sequence[Choice | None]]


class Talk:
    def __init__(self, shop: Shop, turn: Turn) -> None:
        self.shop = shop
        self.user = turn.user
        self.lang = turn.lang
        self.caps = turn.caps
        self.event = turn.event
        self.answer_within = turn.answer_within
        self.state: dict[str, Any] = turn.state
        self.screens: list[Screen] = []
        self.toast: str | None = None
        self.alert = False
        self.clear_tapped = False
        self.effects: list[Effect] = []

    # ---- texts ------------------------------------------------------------------------

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, key, **params)

    def t_fit(self, key: str, limit: int | None = None, *, shrink: Sequence[str],
              **params: Any) -> str:  # fmt: skip
        """``t()`` whose text fits ``limit`` (default: the front's text limit) by cutting
        the ``shrink`` parameters (customer or panel text: names, links), longest first."""
        limit = self.caps.text_limit if limit is None else limit
        text = self.t(key, **params)
        over = htmltext.visible_len(text) - limit
        for name in sorted(shrink, key=lambda n: -len(str(params.get(n) or ""))):
            if over <= 0:
                break
            value = str(params.get(name) or "")
            params[name] = htmltext.clip(value, max(8, len(value) - over - 2))
            text = self.t(key, **params)
            over = htmltext.visible_len(text) - limit
        return text

    def label(self, text: str) -> str:
        # Labels are plain text, but ``t()`` escaped their parameters for HTML: undo it, or
        # a panel's "<b>Views</b> & more" reads "&lt;b&gt;Views…&amp; more" on a button.
        return shorten(html.unescape(text), self.caps.label_limit)

    def choice(self, key: str, data: str, **params: Any) -> Choice:
        """A choice whose label is the message ``key``."""
        return Choice(self.label(self.t(key, **params)), data)

    # ---- screens ----------------------------------------------------------------------

    @property
    def tapped(self) -> bool:
        return isinstance(self.event, Tap)

    def say(self, text: str, rows: ChoiceRows = (), *, menu: bool = False,
            replace: bool = False, kind: str = "") -> None:  # fmt: skip
        """A new screen. ``replace``: it may take the place of the tapped screen."""
        clean = tuple(tuple(c for c in row if c is not None) for row in rows)
        screen = Screen(text, tuple(r for r in clean if r), menu=menu,
                        replace=replace and self.tapped, kind=kind)  # fmt: skip
        self.screens.append(fit(screen, self.caps))

    def show(self, text: str, rows: ChoiceRows = (), *, kind: str = "", menu: bool = False) -> None:
        """A navigation screen: replaces the tapped one where the front can."""
        self.say(text, rows, kind=kind, menu=menu, replace=True)

    def say_long(self, text: str, *, menu: bool = False, kind: str = "") -> None:
        """A long fixed text (FAQ, terms) in as many screens as the front needs, split
        between paragraphs."""
        parts: list[str] = []
        for para in text.split("\n\n"):
            if parts and htmltext.visible_len(parts[-1] + "\n\n" + para) <= self.caps.text_limit:
                parts[-1] += "\n\n" + para
            else:
                parts.append(para)
        for i, part in enumerate(parts):
            self.say(part, menu=menu and i == len(parts) - 1, kind=kind)

    def note(self, text: str, *, alert: bool = False) -> None:
        """A toast on the tapped choice (ignored for typed turns)."""
        self.toast, self.alert = text, alert

    # ---- state ------------------------------------------------------------------------

    @property
    def flow(self) -> str | None:
        return self.state.get("flow")

    @property
    def step(self) -> str | None:
        return self.state.get("step")

    def goto(self, flow: str, step: str) -> None:
        self.state["flow"], self.state["step"] = flow, step

    def end(self) -> None:
        """Leave any flow (its drafts are dropped; nothing was charged by a draft)."""
        for key in ("flow", "step", "order", "topup", "menu"):
            self.state.pop(key, None)

    def part(self, name: str) -> dict[str, Any]:
        """A flow's own corner of the state (created empty)."""
        value = self.state.get(name)
        if not isinstance(value, dict):
            value = self.state[name] = {}
        return value

    def reply(self) -> Reply:
        return Reply(self.screens, self.state, self.toast, self.alert, self.clear_tapped,
                     self.effects)  # fmt: skip
