"""Finding a service: platform → category → service (each level paged), search by number
or words from any menu step, and the service card with its description ("more" pages).

Every tap here carries its whole target (``c:P:<platform>:<page>``, ``c:C:<category>:
<page>``, ``c:s:<service>``, ``c:d:<service>:<page>``, ``c:q:<page>``), so an old button
still opens what it showed. A level with a single entry is skipped (a shop selling only
Instagram goes straight to its categories). Pages are sized to the front
(``Capabilities.page_size``, ``max_choices``) and every name is cut to fit the text and
label limits; the full name is always in a screen's text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from chat import htmltext
from chat.i18n import Safe
from chat.screens import Choice
from chat.talk import Talk
from shop.catalog_menu import CatalogMenu, MenuCategory
from shop.models import Service, ServiceType

T = TypeVar("T")

FLOW = "order"
MENU_STEPS = ("platforms", "categories", "services", "search", "card")
MAX_RESULTS = 200  # more than this is not a result list, it is the catalog
MAX_QUERY_CHARS = 60
CARD_DESCRIPTION = 600  # characters of the description on the card itself
NAV_CHOICES = 4  # prev, next, back, cancel


def per_page(talk: Talk, *, wide: bool = False) -> int:
    size = talk.caps.page_size * (2 if wide and talk.caps.row_width >= 2 else 1)
    return max(1, min(size, talk.caps.max_choices - NAV_CHOICES))


def page_of(items: Sequence[T], page: int, size: int) -> tuple[Sequence[T], int, int]:
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 0), pages - 1)
    return items[page * size : (page + 1) * size], page, pages


def paging(talk: Talk, page: int, pages: int, data: Callable[[int], str]) -> list[Choice]:
    row = []
    if page > 0:
        row.append(talk.choice("browse.prev", data(page - 1)))
    if page < pages - 1:
        row.append(talk.choice("browse.next", data(page + 1)))
    return row


def cancel_choice(talk: Talk) -> Choice:
    return talk.choice("common.cancel", "o:x")


def yes_no(talk: Talk, flag: bool) -> str:
    return talk.t("order.yes" if flag else "order.no")


def _menu_state(talk: Talk, **values: Any) -> None:
    talk.goto(FLOW, values.pop("step"))
    talk.state["menu"] = values


async def _menu(talk: Talk) -> CatalogMenu:
    return await talk.shop.catalog.menu()


def _lines(talk: Talk, header: str, footer: str, lines: list[Callable[[int], str]]) -> str:
    """Join list lines, each given the room it may take so the whole text fits."""
    room = talk.caps.text_limit - htmltext.visible_len(header + footer) - 8
    each = max(40, room // max(1, len(lines)))
    return "\n\n".join(line(each) for line in lines)


# ---- levels ---------------------------------------------------------------------------


async def platforms(talk: Talk, page: int = 0) -> None:
    menu = await _menu(talk)
    if not menu.platforms:
        talk.end()
        talk.say(talk.t("order.no_services"), menu=True, kind="catalog.empty")
        return
    if len(menu.platforms) == 1:
        await categories(talk, menu.platforms[0].key, 0)
        return
    chunk, page, pages = page_of(menu.platforms, page, per_page(talk, wide=True))
    _menu_state(talk, step="platforms", pg=page)
    buttons = [
        Choice(talk.label(talk.t("browse.platform_button", name=talk.t(f"platform.{p.key}"),
                                 count=p.service_count)), f"c:P:{p.key}:0")
        for p in chunk
    ]  # fmt: skip
    width = 2 if talk.caps.row_width >= 2 else 1
    rows: list[list[Choice]] = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    rows += [paging(talk, page, pages, lambda n: f"c:p:{n}"), [cancel_choice(talk)]]
    talk.show(talk.t("browse.platforms", page=page + 1, pages=pages), rows,
              kind="catalog.platforms")  # fmt: skip


async def categories(talk: Talk, platform_key: str, page: int) -> None:
    menu = await _menu(talk)
    plat = menu.platform(platform_key)
    if plat is None:  # the catalog changed under an old button
        await platforms(talk)
        return
    if len(plat.categories) == 1:
        await services(talk, plat.categories[0].key, 0)
        return
    chunk, page, pages = page_of(plat.categories, page, per_page(talk))
    _menu_state(talk, step="categories", p=plat.key, pg=page)
    first = page * per_page(talk)
    labels = [talk.label(c.name) for c in chunk]
    shortened = any(lab != " ".join(c.name.split()) for lab, c in zip(labels, chunk, strict=True))
    if shortened:  # numbered, so a cut button can be found in the list of full names
        labels = [talk.label(f"{first + i + 1}. {c.name}") for i, c in enumerate(chunk)]
    name = talk.t(f"platform.{plat.key}")
    lines = ""
    if shortened:  # the buttons cut a name: the text gives every name in full
        header = talk.t("browse.categories", platform=name, page=page + 1, pages=pages, lines="")
        room = max(40, (talk.caps.text_limit - htmltext.visible_len(header)) // len(chunk) - 4)
        lines = "\n" + "\n".join(
            talk.t_fit("browse.category_line", room, shrink=("name",), n=first + i + 1,
                       name=c.name)
            for i, c in enumerate(chunk)
        ) + "\n"  # fmt: skip
    rows: list[list[Choice]] = [
        [Choice(lab, f"c:C:{c.key}:0")] for lab, c in zip(labels, chunk, strict=True)
    ]
    rows.append(paging(talk, page, pages, lambda n: f"c:P:{plat.key}:{n}"))
    back = talk.choice("browse.to_platforms", "c:p:0") if len(menu.platforms) > 1 else None
    rows.append([c for c in (back, cancel_choice(talk)) if c])
    text = talk.t("browse.categories", platform=name, page=page + 1, pages=pages,
                  lines=Safe(lines))  # fmt: skip
    talk.show(text, rows, kind="catalog.categories")


def _category_back(talk: Talk, menu: CatalogMenu, cat: MenuCategory) -> Choice | None:
    plat = menu.platform(cat.platform)
    if plat is not None and len(plat.categories) > 1:
        index = next((i for i, c in enumerate(plat.categories) if c.key == cat.key), 0)
        return talk.choice("browse.to_categories", f"c:P:{plat.key}:{index // per_page(talk)}")
    if len(menu.platforms) > 1:
        return talk.choice("browse.to_platforms", "c:p:0")
    return None


def _service_list(talk: Talk, services: Sequence[Service], header: str, footer: str) -> str:
    catalog = talk.shop.catalog

    def line(s: Service) -> Callable[[int], str]:
        return lambda room: talk.t_fit(
            "browse.service_line", room, shrink=("name",), id=str(s.id), name=s.name,
            price=catalog.price_per_1000(s), min=s.min, max=s.max, refill=yes_no(talk, s.refill),
        )  # fmt: skip

    return _lines(talk, header, footer, [line(s) for s in services])


def _service_buttons(talk: Talk, services: Sequence[Service]) -> list[list[Choice]]:
    return [
        [Choice(talk.label(talk.t("browse.service_button", id=str(s.id), name=s.name)),
                f"c:s:{s.id}")]
        for s in services
    ]  # fmt: skip


async def services(talk: Talk, category_key: str, page: int) -> None:
    menu = await _menu(talk)
    cat = menu.category(category_key)
    if cat is None:  # the catalog changed under an old button
        await platforms(talk)
        return
    chunk, page, pages = page_of(cat.services, page, per_page(talk))
    _menu_state(talk, step="services", c=cat.key, pg=page)
    bare = talk.t("browse.services", category=cat.name, page=page + 1, pages=pages, lines="")
    lines = _service_list(talk, chunk, bare, "")
    text = talk.t_fit("browse.services", shrink=("category",), category=cat.name,
                      page=page + 1, pages=pages, lines=Safe(lines))  # fmt: skip
    rows = _service_buttons(talk, chunk)
    rows.append(paging(talk, page, pages, lambda n: f"c:C:{cat.key}:{n}"))
    rows.append([c for c in (_category_back(talk, menu, cat), cancel_choice(talk)) if c])
    talk.show(text, rows, kind="catalog.services")


async def search(talk: Talk, query: str | None, page: int = 0) -> bool:
    """Show the services matching ``query`` (None: the last query); False if none."""
    query = (query if query is not None else str(talk.part("menu").get("q") or ""))[
        :MAX_QUERY_CHARS
    ]
    menu = await _menu(talk)
    found = menu.search(query, limit=MAX_RESULTS + 1)
    if not found:
        return False
    capped = len(found) > MAX_RESULTS
    found = found[:MAX_RESULTS]
    chunk, page, pages = page_of(found, page, per_page(talk))
    _menu_state(talk, step="search", q=query, pg=page)
    key = "browse.search_capped" if capped else "browse.search"
    params = {"query": htmltext.clip(query, 30), "count": len(found), "page": page + 1,
              "pages": pages}  # fmt: skip
    lines = _service_list(talk, chunk, talk.t(key, lines="", **params), "")
    rows = _service_buttons(talk, chunk)
    rows.append(paging(talk, page, pages, lambda n: f"c:q:{n}"))
    rows.append([talk.choice("browse.all_platforms", "c:p:0"), cancel_choice(talk)])
    talk.show(talk.t(key, lines=Safe(lines), **params), rows, kind="catalog.search")
    return True


async def find(talk: Talk, text: str, *, numbers: bool = True) -> bool:
    """Typed text at a menu step: a service number opens its card, words search.
    False when nothing matched (the caller decides what to say)."""
    menu = await _menu(talk)
    if numbers:
        service = menu.by_number(text)
        if service is not None:
            await card(talk, service)
            return True
    return await search(talk, text.strip())


async def not_found(talk: Talk, text: str) -> None:
    """Nothing matched ``text``: say so, with a way back to the full menu."""
    menu = await _menu(talk)
    number = menu.by_number(text) is None and text.strip().lstrip("#").isdigit()
    if number:
        msg = talk.t("browse.no_number", id=text.strip().lstrip("#")[:12])
    else:
        msg = talk.t("browse.search_none", query=htmltext.clip(" ".join(text.split()), 40))
    talk.say(msg, [[talk.choice("browse.all_platforms", "c:p:0"), cancel_choice(talk)]],
             kind="catalog.none")  # fmt: skip


# ---- the service card -----------------------------------------------------------------


def _kind(talk: Talk, service: Service) -> str:
    return talk.t("order.kind_" + service.type.value.lower().replace(" ", "_"))


def first_question(talk: Talk, service: Service) -> str:
    step = "username" if service.type == ServiceType.SUBSCRIPTIONS else "link"
    return talk.t(f"order.ask_{step}")


def _card_back(talk: Talk, menu: CatalogMenu, service: Service) -> Choice | None:
    """Back from a card: to the search results it came from, else its category's page."""
    state = talk.part("menu")
    from_search = talk.step == "search" or (talk.step == "card" and state.get("from") == "q")
    if from_search and state.get("q"):
        state["from"] = "q"
        return talk.choice("browse.to_results", f"c:q:{state.get('pg') or 0}")
    state["from"] = "c"
    cat = menu.category_of(service.id)
    if cat is None:
        return None
    index = next((i for i, s in enumerate(cat.services) if s.id == service.id), 0)
    return talk.choice("browse.to_services", f"c:C:{cat.key}:{index // per_page(talk)}")


async def card(talk: Talk, service: Service) -> None:
    """The service's card. It also asks the first question: a link (or username) typed
    right away is taken as the answer (one tap fewer than 🛒 주문하기)."""
    menu = await _menu(talk)
    back = _card_back(talk, menu, service)
    talk.goto(FLOW, "card")
    order = talk.part("order")
    order.clear()
    order["service_id"] = service.id
    params: dict[str, Any] = {
        "id": str(service.id), "name": service.name,
        "price": talk.shop.catalog.price_per_1000(service), "min": service.min,
        "max": service.max, "refill": yes_no(talk, service.refill),
        "cancel": yes_no(talk, service.cancel), "kind": _kind(talk, service),
        "ask": Safe(first_question(talk, service)),
    }  # fmt: skip
    limit = talk.caps.text_limit
    fixed = htmltext.visible_len(talk.t("order.detail", description="", **(params | {"name": ""})))
    params["name"] = htmltext.clip(service.name, max(20, (limit - fixed) // 2))
    bare = htmltext.visible_len(talk.t("order.detail", description="", **params))
    full = htmltext.from_panel(service.description)
    room = min(CARD_DESCRIPTION, limit - bare - 8)
    shown = htmltext.clip(full, room) if full and room > 20 else ""
    more = bool(full) and shown != full
    description = talk.t("order.description", text=shown) if shown else ""
    text = talk.t("order.detail", description=Safe(description), **params)
    rows: list[list[Choice | None]] = [
        [talk.choice("order.buy", f"o:buy:{service.id}"),
         talk.choice("browse.more", f"c:d:{service.id}:0") if more else None],
        [back, cancel_choice(talk)],
    ]  # fmt: skip
    talk.show(text, rows, kind="order.detail")


async def description(talk: Talk, service: Service, page: int) -> None:
    """The whole description, in pages that fit the front."""
    full = htmltext.from_panel(service.description) or "-"
    name = htmltext.clip(service.name, 80)
    head = talk.t("browse.description_page", id=str(service.id), name=name, page=1, pages=1,
                  text="")  # fmt: skip
    parts = htmltext.chunks(full, max(100, talk.caps.text_limit - htmltext.visible_len(head) - 16))
    chunk, page, pages = page_of(parts, page, 1)
    text = talk.t("browse.description_page", id=str(service.id), name=name, page=page + 1,
                  pages=pages, text=chunk[0])  # fmt: skip
    rows = [
        paging(talk, page, pages, lambda n: f"c:d:{service.id}:{n}"),
        [talk.choice("order.buy", f"o:buy:{service.id}"),
         talk.choice("browse.to_card", f"c:s:{service.id}")],
    ]  # fmt: skip
    talk.goto(FLOW, "card")
    order = talk.part("order")
    order.clear()
    order["service_id"] = service.id
    talk.show(text, rows, kind="catalog.description")


# ---- taps -----------------------------------------------------------------------------


def _int(text: str, default: int = 0) -> int:
    return int(text) if text.isdigit() and len(text) < 9 else default


async def on_tap(talk: Talk, parts: list[str]) -> bool:
    """``c:…`` data; False when it is not one of ours (the caller says "expired")."""
    action = parts[1] if len(parts) > 1 else ""
    arg = parts[2] if len(parts) > 2 else ""
    page = _int(parts[3]) if len(parts) > 3 else _int(arg)
    if action == "p":
        await platforms(talk, _int(arg))
    elif action == "P" and arg:
        await categories(talk, arg, page)
    elif action == "C" and arg:
        await services(talk, arg, page)
    elif action == "q":
        if not await search(talk, None, _int(arg)):
            await platforms(talk)
    elif action in ("s", "d") and arg.isdigit():
        service = (await _menu(talk)).service(_int(arg, -1))
        if service is None:  # hidden or removed since the button was shown
            talk.say(talk.t("service.unavailable"), kind="order.unavailable")
            await platforms(talk)
        elif action == "s":
            await card(talk, service)
        else:
            await description(talk, service, page)
    else:
        return False
    return True
