"""chat/ screens → a Kakao SkillResponse v2.0, within Kakao's limits (kakao-skill.md §3).

How a screen becomes components:
- its text (Telegram-flavoured HTML) is shown as plain text: a ``simpleText`` (split at
  1,000 characters), or the description of a ``textCard`` when it has ≤ 3 choices and
  ≤ 400 characters (a first line in bold becomes the card's title). Card buttons stay
  tappable in the chat, so a confirmation card's 확인 can be tapped again after a
  timeout — the choice's data (the quote token) makes that the same order;
- choices whose labels are too long for a button (service and category names) become
  ``listCard`` items (5 a card; more in a carousel of list cards);
- short choices of the last screen become quick replies (≤ 10, labels ≤ 14), with the
  main menu (or one 🏠 chip when there is no room) so a customer always has a way on.
More than three components: the first three are shown with a "더 보기" chip and the rest
is kept for that chip (``Page.rest``).

Every control is a ``block`` action to the router block carrying ``extra`` (``{"d": data}``
for a chat choice, ``{"k": …}`` for the front's own controls). Without a router block id
the controls are ``message`` actions and the front maps their label back (``Page.labels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chat import htmltext
from chat.i18n import t
from chat.screens import Capabilities, Choice, Screen

KAKAO = Capabilities(
    front="kakao",
    text_limit=1000,  # simpleText (the client folds beyond 500 behind 전체 보기)
    label_limit=40,  # listCard item titles take 50; button/quick-reply labels are cut to 14
    max_choices=10,  # quick replies
    row_width=3,  # buttons on a card
    page_size=5,  # items of a listCard
    stars=False,
    photos=False,
    edits=False,  # Kakao never edits a bubble: every answer is a new one
    main_menu_rows=(7,),
)

MAX_OUTPUTS = 3
MAX_QUICK = 10
CHIP = 14  # button and quick-reply label limit
TITLE = 50
CARD_TEXT = 400
CARD_BUTTONS = 3
LIST_ITEMS = 5
CAROUSEL_LIST_ITEMS = 4
CAROUSEL_LISTS = 5
SIMPLE_TEXT = 1000

Extra = dict[str, str]


@dataclass
class Page:
    """One SkillResponse, the label→extra map of its controls (message mode) and what is
    left for the "더 보기" chip (JSON-able, kept in the conversation state)."""

    response: dict[str, Any]
    labels: dict[str, Extra] = field(default_factory=dict)
    rest: dict[str, Any] | None = None


class Controls:
    """Builds buttons, list items and quick replies for the console's router block."""

    def __init__(self, router_block_id: str | None) -> None:
        self.router = router_block_id
        self.labels: dict[str, Extra] = {}

    def action(self, label: str, extra: Extra) -> dict[str, Any]:
        self.labels.setdefault(label, extra)
        if self.router:
            return {"action": "block", "blockId": self.router, "messageText": label,
                    "extra": extra}  # fmt: skip
        return {"action": "message", "messageText": label}

    def button(self, choice: Choice) -> dict[str, Any]:
        label = chip_label(choice.label)
        if choice.url is not None:
            return {"label": label, "action": "webLink", "webLinkUrl": choice.url}
        return {"label": label, **self.action(label, {"d": choice.data or ""})}

    def item(self, choice: Choice) -> dict[str, Any]:
        title = htmltext.clip(choice.label, TITLE)
        if choice.url is not None:
            return {"title": title, "link": {"web": choice.url}}
        return {"title": title, **self.action(title, {"d": choice.data or ""})}

    def quick(self, label: str, extra: Extra) -> dict[str, Any]:
        label = chip_label(label)
        return {"label": label, **self.action(label, extra)}


def chip_label(label: str) -> str:
    return htmltext.clip(" ".join(label.split()), CHIP)


def simple_texts(text: str) -> list[dict[str, Any]]:
    if not text:
        return []
    return [{"simpleText": {"text": part}} for part in htmltext.chunks(text, SIMPLE_TEXT)]


def _card_parts(html_text: str) -> tuple[str | None, str]:
    """A first line in bold is a card title; the rest is its description."""
    first, _, rest = html_text.strip().partition("\n")
    if first.startswith("<b>") and first.endswith("</b>") and first.count("<b>") == 1:
        title = htmltext.plain(first).strip()
        if 0 < len(title) <= TITLE and rest.strip():
            return title, htmltext.plain(rest).strip()
    return None, htmltext.plain(html_text).strip()


def _split(screen: Screen) -> tuple[list[Choice], list[Choice], list[Choice]]:
    """(list items, chips, links). Single-choice rows up to the last one whose label is too
    long for a button are the list (a short entry among long ones stays in it); what
    follows them (paging, back, cancel) and rows of several choices are chips."""
    links = [c for c in screen.choices if c.url is not None]
    rows = [tuple(c for c in row if c.url is None) for row in screen.rows]
    rows = [r for r in rows if r]
    long_rows = [i for i, r in enumerate(rows) if len(r) == 1 and len(r[0].label) > CHIP]
    if not long_rows:
        return [], [c for r in rows for c in r], links
    last = long_rows[-1]
    items = [r[0] for i, r in enumerate(rows) if len(r) == 1 and i <= last]
    chips = [c for i, r in enumerate(rows) if len(r) > 1 or i > last for c in r]
    return items, chips, links


def _lists(header: str, items: list[Choice], controls: Controls) -> list[dict[str, Any]]:
    if len(items) <= LIST_ITEMS:
        return [{"listCard": {"header": {"title": header},
                              "items": [controls.item(c) for c in items]}}]  # fmt: skip
    chunks = [items[i : i + CAROUSEL_LIST_ITEMS] for i in range(0, len(items), CAROUSEL_LIST_ITEMS)]
    cards = [
        {"header": {"title": htmltext.clip(f"{header} ({n}/{len(chunks)})", TITLE)},
         "items": [controls.item(c) for c in chunk]}
        for n, chunk in enumerate(chunks[:CAROUSEL_LISTS], 1)
    ]  # fmt: skip
    return [{"carousel": {"type": "listCard", "items": cards}}]


def _buttons_card(
    title: str | None, description: str, choices: list[Choice], controls: Controls
) -> dict[str, Any]:
    card: dict[str, Any] = {"description": description}
    if title:
        card["title"] = title
    card["buttons"] = [controls.button(c) for c in choices]
    return {"textCard": card}


def _screen(
    screen: Screen, lang: str, controls: Controls, *, last: bool
) -> tuple[list[dict[str, Any]], list[Choice]]:
    """The components of one screen and the chips it leaves for the quick replies."""
    text = htmltext.plain(screen.text).strip()
    items, chips, links = _split(screen)
    choose = t(lang, "kakao.choose")
    out: list[dict[str, Any]] = []
    if not items and text and len(text) <= CARD_TEXT and 1 <= len(chips + links) <= CARD_BUTTONS:
        title, desc = _card_parts(screen.text)
        return [_buttons_card(title, desc, chips + links, controls)], []
    if items:
        header = text if text and "\n" not in text and len(text) <= TITLE else ""
        if not header:
            out += simple_texts(text)
        out += _lists(header or choose, items, controls)
    else:
        out += simple_texts(text)
    if not last:  # an earlier screen's chips would vanish as quick replies: keep them
        extra = chips + links
        if 1 <= len(extra) <= CARD_BUTTONS:
            out.append(_buttons_card(None, choose, extra, controls))
        elif extra:
            out += _lists(choose, extra, controls)
        return out, []
    if links:
        out.append(_buttons_card(None, choose, links[:CARD_BUTTONS], controls))
    return out, chips


def render(
    screens: list[Screen],
    lang: str,
    router_block_id: str | None,
    menu: list[Choice],
    *,
    before: list[dict[str, Any]] | None = None,
    known: dict[str, Extra] | None = None,
) -> Page:
    """``before``: ready components shown first (an answer the customer missed), whose
    controls' labels are ``known``."""
    controls = Controls(router_block_id)
    controls.labels.update(known or {})
    outputs: list[dict[str, Any]] = list(before or [])
    chips: list[Choice] = []
    want_menu = False
    for i, screen in enumerate(screens):
        parts, left = _screen(screen, lang, controls, last=i == len(screens) - 1)
        outputs += parts
        chips += left
        want_menu = want_menu or screen.menu
    if not outputs:
        outputs = simple_texts(t(lang, "kakao.choose"))
    quick = _quick_replies(chips, menu, lang, controls, want_menu=want_menu)
    return paginate(outputs, quick, lang, controls)


def _quick_replies(
    chips: list[Choice], menu: list[Choice], lang: str, controls: Controls, *, want_menu: bool
) -> list[dict[str, Any]]:
    quick: list[dict[str, Any]] = []
    seen: set[str] = set()
    for choice in chips[:MAX_QUICK]:
        label = chip_label(choice.label)
        if label in seen:  # a second chip with the same visible label would be ambiguous
            continue
        seen.add(label)
        quick.append(controls.quick(label, {"d": choice.data or ""}))
    room = MAX_QUICK - len(quick)
    # A menu entry labelled like a button of this answer (the service card's 🛒 주문하기)
    # would be two different taps under one name: then only the home chip.
    clash = any(chip_label(c.label) in controls.labels for c in menu)
    if (want_menu or not quick) and room >= len(menu) and not clash:
        quick += [controls.quick(c.label, {"d": c.data or ""}) for c in menu]
    elif room >= 1:
        quick.append(controls.quick(t(lang, "common.home"), {"k": "home"}))
    return quick


def paginate(
    outputs: list[dict[str, Any]], quick: list[dict[str, Any]], lang: str, controls: Controls
) -> Page:
    """At most three components now; the rest behind a "더 보기" chip."""
    if len(outputs) <= MAX_OUTPUTS:
        response = {"version": "2.0", "template": {"outputs": outputs, "quickReplies": quick}}
        return Page(response, controls.labels)
    more = [controls.quick(t(lang, "kakao.more"), {"k": "more"}),
            controls.quick(t(lang, "common.home"), {"k": "home"})]  # fmt: skip
    rest = {"outputs": outputs[MAX_OUTPUTS:], "quick": quick, "labels": dict(controls.labels)}
    response = {"version": "2.0",
                "template": {"outputs": outputs[:MAX_OUTPUTS], "quickReplies": more}}  # fmt: skip
    return Page(response, controls.labels, rest)


def render_rest(
    rest: dict[str, Any],
    lang: str,
    router_block_id: str | None,
    *,
    before: list[dict[str, Any]] | None = None,
    known: dict[str, Extra] | None = None,
) -> Page:
    """The next part of an answer that did not fit (the "더 보기" chip)."""
    controls = Controls(router_block_id)
    controls.labels.update(known or {})
    controls.labels.update(rest.get("labels") or {})
    outputs = [*(before or []), *rest.get("outputs", [])]
    return paginate(outputs, list(rest.get("quick", [])), lang, controls)


def text_response(text: str, quick: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A plain answer (deadline and error notes)."""
    template: dict[str, Any] = {"outputs": simple_texts(text)[:MAX_OUTPUTS]}
    if quick:
        template["quickReplies"] = quick
    return {"version": "2.0", "template": template}
