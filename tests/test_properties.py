"""Property tests: parsers never crash on arbitrary text; money stays consistent under
random sequences of top-ups, orders, panel statuses and repeated polls."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfillment.client import PanelClient
from sandbox.panel import PanelSimulator, serve_panel
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.money import partial_refund
from shop.parsing import (
    MAX_LINK_CHARS,
    InputError,
    parse_amount,
    parse_comments,
    parse_depositor,
    parse_int,
    parse_link,
    parse_username,
)
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

# ---- parsers ------------------------------------------------------------------------

# Anything: unicode, control characters, surrogates excluded (not valid in str from Telegram).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=300) | st.text(
    st.sampled_from("0123456789,. 만원개-+@/:?&=#%\u3000１２３\x00\n\t"), max_size=40
)
long_text = st.integers(2000, 20_000).map(lambda n: "1" * n) | st.integers(2040, 2100).map(
    lambda n: "https://a.com/" + "x" * n
)
link_like = st.builds(
    lambda scheme, host, path, query: f"{scheme}{host}{path}{query}",
    st.sampled_from(["https://", "http://", "HTTPS://www.", "", "javascript:", "data:", "//"]),
    st.text(st.sampled_from("abcXYZ-.한0:@[]"), min_size=0, max_size=20),
    st.text(max_size=60).map(lambda s: "/" + s),
    # ≤ 200 chars: percent-encoding can grow a query 9×, see the length test below.
    st.text(max_size=200).map(lambda s: "?q=" + s + "&utm_source=x"),
)


def only_input_errors(fn, text: str) -> object:
    try:
        return fn(text)
    except InputError as exc:
        assert isinstance(exc.code, str) and exc.code
        return None


PARSERS = [
    lambda t: parse_int(t, lo=1, hi=1_000_000),
    lambda t: parse_amount(t, lo=5000, hi=2_000_000),
    parse_link,
    parse_username,
    lambda t: parse_comments(t, lo=1, hi=100),
    parse_depositor,
]


@settings(max_examples=300, deadline=None)
@given(text=any_text | long_text | link_like)
def test_parsers_raise_nothing_but_input_error(text: str):
    for fn in PARSERS:
        only_input_errors(fn, text)


@settings(max_examples=400, deadline=None)
@given(text=link_like | any_text)
def test_accepted_links_are_safe_http_urls(text: str):
    link = only_input_errors(parse_link, text)
    if link is None:
        return
    assert isinstance(link, str)
    parts = urlsplit(link)
    assert parts.scheme in ("http", "https")
    assert parts.hostname
    assert len(link) <= MAX_LINK_CHARS
    assert not link.lower().startswith(("javascript:", "data:"))
    if "." in parts.hostname:
        assert parse_link(link) == link  # normalizing twice changes nothing


def test_normalized_link_never_exceeds_the_limit():
    # 600 Hangul syllables pass the 2048-char check but come out as %ED%95%9C… (5,416 chars).
    link = only_input_errors(parse_link, "https://a.com/?q=" + "한" * 600)
    assert link is None or len(link) <= MAX_LINK_CHARS


def test_stripping_www_never_leaves_an_invalid_host():
    # "https://www.x/" is accepted as "https://x", which parse_link itself refuses.
    assert only_input_errors(parse_link, "https://www.x/") is None
    assert only_input_errors(parse_link, "https://www.0/") is None


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10**12 - 1), style=st.sampled_from(["{:d}", "{:,d}", "{:d}개"]))
def test_quantities_round_trip(n: int, style: str):
    assert parse_int(style.format(n), lo=1, hi=10**12 - 1) == n


# ---- money under random sequences -------------------------------------------------------

KEY = "prop-key-1234"
ADMIN = 9000
CUSTOMERS = 3

action = st.one_of(
    st.tuples(st.just("topup"), st.integers(0, CUSTOMERS - 1), st.integers(5000, 60_000)),
    st.tuples(
        st.just("order"),
        st.integers(0, CUSTOMERS - 1),
        st.sampled_from(["101", "201"]),
        st.integers(10, 3000),
    ),
    st.tuples(
        st.just("status"),
        st.integers(0, 50),
        st.sampled_from(["Completed", "Partial", "Canceled", "In progress"]),
        st.integers(-100, 3500),
    ),
    st.tuples(st.just("poll")),
    st.tuples(st.just("replay"), st.integers(0, 50)),
)


@dataclass
class Placed:
    user: int
    token: str
    order_id: int
    panel_id: str | None
    price: int
    quantity: int
    expect: tuple[str, int] | None = None  # (final status, refund) once decided


@dataclass
class Model:
    credited: dict[int, int] = field(default_factory=dict)
    placed: list[Placed] = field(default_factory=list)


async def assert_ledger_ok(shop: Shop) -> None:
    broken = {k: v for k, v in (await shop.check_ledger()).items() if v}
    assert not broken, broken


async def run_actions(actions: list[tuple]) -> None:
    sim = PanelSimulator(api_key=KEY, auto_advance=False, balance="100000")
    server = await serve_panel(sim)
    client = PanelClient(server.url, KEY, timeout=5.0)
    clock = ManualClock()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with Database(Path(tmp) / "shop.sqlite3") as db:
                ctx = ShopContext(db=db, panel=client, clock=clock,
                                  settings=ShopSettings(admin_ids=(ADMIN,)))  # fmt: skip
                shop = Shop(ctx)
                await shop.catalog.sync()
                await play(shop, sim, clock, actions)
    finally:
        await client.aclose()
        await server.stop()


async def play(shop: Shop, sim: PanelSimulator, clock: ManualClock, actions: list[tuple]) -> None:
    services = {s.panel_id: s for s in await shop.catalog.all()}
    uids = [(await shop.users.ensure(100 + i, None, "고객", "ko")).id for i in range(CUSTOMERS)]
    model = Model(credited={u: 0 for u in uids})
    for step, act in enumerate(actions):
        kind = act[0]
        if kind == "topup":
            uid = uids[act[1]]
            topup = await shop.topups.request_bank(uid, act[2], "입금자")
            await shop.topups.approve(topup.id, ADMIN)
            await shop.topups.approve(topup.id, ADMIN)  # a second press credits nothing
            model.credited[uid] += act[2]
        elif kind == "order":
            uid, svc = uids[act[1]], services[act[2]]
            inp = OrderInput(link=f"https://instagram.com/p/{step}", quantity=act[3])
            q = await shop.orders.quote(uid, svc.id, inp)
            result = await shop.orders.place(uid, q.token)
            if result.outcome == PlaceOutcome.INSUFFICIENT:
                assert (await shop.users.get(uid)).balance < q.price
                continue
            assert result.order is not None
            placed = Placed(uid, q.token, result.order.id, result.order.panel_order_id,
                            q.price, act[3])  # fmt: skip
            if result.outcome == PlaceOutcome.FAILED:
                placed.expect = ("failed", q.price)
            else:
                assert result.outcome == PlaceOutcome.PLACED
            model.placed.append(placed)
        elif kind == "status" and model.placed:
            p = model.placed[act[1] % len(model.placed)]
            if p.expect is not None or p.panel_id is None:
                continue  # the panel never leaves a terminal status
            status, remains = act[2], act[3]
            if status == "In progress":
                sim.set_order(p.panel_id, status=status, remains=max(remains, 0))
                continue
            sim.set_order(p.panel_id, status=status, remains=remains)
            refund = {"Completed": 0, "Canceled": p.price}.get(
                status, partial_refund(p.price, remains, p.quantity)
            )
            p.expect = (status.lower(), refund)
        elif kind == "poll":
            for _ in range(2):  # polling twice must change nothing the second time
                clock.advance(days=1)
                await shop.fulfilment.poll_once()
        elif kind == "replay" and model.placed:
            p = model.placed[act[1] % len(model.placed)]
            again = await shop.orders.place(p.user, p.token)
            assert again.outcome == PlaceOutcome.REPLAYED and again.order.id == p.order_id
        await assert_ledger_ok(shop)
    # Let every decided status reach the shop, then compare with the model.
    for _ in range(2):
        clock.advance(days=1)
        await shop.fulfilment.poll_once()
    await assert_ledger_ok(shop)
    spent = {u: 0 for u in uids}
    for p in model.placed:
        order = await shop.orders.get_for_user(p.user, p.order_id)
        assert order is not None and order.price == p.price
        if p.expect is not None:
            assert (order.status, order.refunded) == p.expect
        spent[p.user] += order.price - order.refunded
    for uid in uids:
        balance = (await shop.users.get(uid)).balance
        assert balance == model.credited[uid] - spent[uid] >= 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=1, max_size=25))
def test_money_stays_consistent_under_random_sequences(actions: list[tuple]):
    asyncio.run(run_actions(actions))


def test_money_property_smoke():
    # A fixed sequence covering every branch, so a regression shows without shrinking.
    asyncio.run(run_actions([
        ("topup", 0, 60_000), ("order", 0, "101", 1000), ("order", 0, "201", 500),
        ("order", 0, "101", 3000), ("status", 0, "Partial", 400), ("status", 1, "Canceled", 0),
        ("poll",), ("replay", 0), ("status", 0, "Canceled", 0), ("poll",),
    ]))  # fmt: skip
