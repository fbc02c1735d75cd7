"""Screens: what a front shows for one step of a conversation, and what the front can show.

A ``Screen`` is text (Telegram-flavoured HTML whose parameters were escaped by ``t()``)
plus choices in rows. A ``Choice`` is a label and either opaque ASCII data (≤ 64 bytes,
given back as a ``Tap``) or a URL to open. ``Capabilities`` describe the front's limits;
the conversation sizes every screen to them (page sizes, label and text lengths), and
``fit`` is the last guard that makes any screen fit whatever its contents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from chat import htmltext

log = logging.getLogger(__name__)

MAX_DATA_BYTES = 64  # Telegram's callback_data limit; every front gets at most this


@dataclass(frozen=True, slots=True)
class Choice:
    label: str  # plain text, never HTML
    data: str | None = None  # opaque ASCII, handed back as Tap(data)
    url: str | None = None  # opened by the front instead (e.g. a card checkout page)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError(f"a choice has data or a url, not both/neither: {self!r}")
        if self.data is not None and (
            not self.data.isascii() or len(self.data.encode()) > MAX_DATA_BYTES
        ):
            raise ValueError(
                f"choice data must be ASCII and ≤ {MAX_DATA_BYTES} bytes: {self.data!r}"
            )


Rows = tuple[tuple[Choice, ...], ...]


@dataclass(frozen=True, slots=True)
class Screen:
    text: str  # Telegram-flavoured HTML (<b>, <i>, <a>, <code>); params already escaped
    rows: Rows = ()
    menu: bool = False  # offer the main menu with this screen
    replace: bool = False  # may replace the screen whose choice was tapped (edit in place)
    kind: str = ""  # which screen this is ("order.card", "catalog.services"…), for fronts
    # that render some kinds richer (a Kakao textCard) and for tests

    @property
    def choices(self) -> list[Choice]:
        return [c for row in self.rows for c in row]

    @property
    def plain(self) -> str:
        """The text without markup, for fronts that show plain text (Kakao)."""
        return htmltext.plain(self.text)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a front can show. The conversation never hard-codes one front's limits."""

    front: str  # "telegram" | "kakao" | …
    text_limit: int  # visible characters (UTF-16 units) of one screen's text
    label_limit: int  # characters of a choice label worth showing
    max_choices: int  # choices on one screen (the main menu not counted)
    row_width: int  # choices in one row
    page_size: int  # list entries (services, orders…) per page
    stars: bool = False  # Telegram Stars payments (an Invoice effect)
    photos: bool = False  # the customer can send a photo (a bank-transfer receipt)
    edits: bool = True  # a tapped screen can be replaced in place
    main_menu_rows: tuple[int, ...] = (2, 2, 2, 1)  # how the main menu is laid out


TELEGRAM = Capabilities(
    front="telegram",
    text_limit=4096,
    label_limit=40,  # Telegram takes more, a phone shows about this much
    max_choices=100,
    row_width=8,
    page_size=8,
    stars=True,
    photos=True,
)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (whitespace collapsed)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(1, limit - 1)].rstrip() + "…"


def fit(screen: Screen, caps: Capabilities) -> Screen:
    """The last guard: labels shortened, rows split to the front's width, choices capped,
    the text cut (keeping its HTML valid). Screens are built to fit; this only catches
    what slipped through, and says so in the log."""
    rows: list[tuple[Choice, ...]] = []
    count = 0
    for row in screen.rows:
        fixed = tuple(
            replace(c, label=shorten(c.label, caps.label_limit))
            if len(c.label) > caps.label_limit
            else c
            for c in row
        )
        for i in range(0, len(fixed), caps.row_width):
            part = fixed[i : i + caps.row_width][: caps.max_choices - count]
            if part:
                rows.append(part)
                count += len(part)
    text = screen.text
    if htmltext.visible_len(text) > caps.text_limit:
        log.warning("screen %s over %s characters; cut", screen.kind, caps.text_limit)
        text = htmltext.cut(text, caps.text_limit)
    if count < len(screen.choices):
        log.warning("screen %s had %s choices; %s kept", screen.kind, len(screen.choices), count)
    return replace(screen, text=text, rows=tuple(rows))


def problems(screen: Screen, caps: Capabilities) -> list[str]:
    """Every way ``screen`` breaks ``caps`` (empty when it fits); for tests and fronts."""
    out = []
    if htmltext.visible_len(screen.text) > caps.text_limit:
        out.append(f"text {htmltext.visible_len(screen.text)} > {caps.text_limit}")
    if len(screen.choices) > caps.max_choices:
        out.append(f"{len(screen.choices)} choices > {caps.max_choices}")
    out += [f"row of {len(r)} > {caps.row_width}" for r in screen.rows if len(r) > caps.row_width]
    out += [f"label {c.label!r}" for c in screen.choices if len(c.label) > caps.label_limit]
    return out
