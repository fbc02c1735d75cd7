"""The large simulated catalog (sandbox/catalog.py) and the shop's sync of it over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from fulfillment.client import PanelClient
from sandbox.catalog import ALL_TYPES, MAX_DESC, MAX_NAME, catalog_services, large_catalog
from sandbox.panel import PanelSimulator, serve_panel
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

KEY = "large-catalog-key"


def test_shaped_like_a_real_panel() -> None:
    cat = large_catalog()
    stats = cat.stats()
    assert stats["services"] >= 3000 and stats["categories"] >= 150
    assert stats["platforms"] >= 20
    assert {s.type for s in cat.services} == set(ALL_TYPES)
    assert (stats["longest_name"], stats["longest_desc"]) == (MAX_NAME, MAX_DESC)
    assert len({s.service for s in cat.services}) == len(cat.services)
    names = " ".join(s.name for s in cat.services)
    for sample in ("🇰🇷", "[", "<b>Views</b> & more", "‍"):  # flag, bracket, HTML, ZWJ
        assert sample in names
    descs = " ".join(s.desc or "" for s in cat.services)
    for sample in ("<br>", "<b>", "&nbsp;", "\r\n"):
        assert sample in descs
    assert any(s.desc is None for s in cat.services)  # Perfect Panel sends none
    assert any(len(s.desc or "") > 4096 for s in cat.services)
    edge = [s for s in cat.services if s.min == s.max and s.type == "Default"]
    assert edge and any(s.max == 10_000_000 for s in cat.services)
    assert any(s.rate == Decimal("0.0001") for s in cat.services)
    assert any(s.rate.as_tuple().exponent == -8 for s in cat.services)
    # categories name their platform; a few (best sellers…) name none
    assert None in cat.platform_of.values()
    assert "YouTube" in " ".join(c for c, p in cat.platform_of.items() if p == "youtube")


def test_deterministic_and_every_call_gets_its_own_copy() -> None:
    a, b = large_catalog(), large_catalog()
    assert [(s.service, s.name, s.rate, s.desc) for s in a.services] == [
        (s.service, s.name, s.rate, s.desc) for s in b.services
    ]
    a.services[0].max = 1
    assert large_catalog().services[0].max == b.services[0].max
    assert large_catalog(seed=7).services[0].name != a.services[0].name or (
        large_catalog(seed=7).services[5].name != a.services[5].name
    )
    assert len(catalog_services("small")) < 20
    with pytest.raises(ValueError, match="unknown catalog"):
        catalog_services("huge")


@pytest.fixture
async def large_shop(tmp_path: Path) -> AsyncIterator[tuple[PanelSimulator, Shop]]:
    sim = PanelSimulator(api_key=KEY, catalog="large", auto_advance=False)
    server = await serve_panel(sim)
    client = PanelClient(server.url, KEY, timeout=10)
    try:
        async with Database(tmp_path / "shop.sqlite3") as db:
            yield sim, Shop(ShopContext(db=db, panel=client, settings=ShopSettings()))
    finally:
        await client.aclose()
        await server.stop()


async def test_sync_stores_every_service_exactly(
    large_shop: tuple[PanelSimulator, Shop],
) -> None:
    sim, shop = large_shop
    report = await shop.catalog.sync()
    assert (report.new, report.total) == (len(sim.services), len(sim.services))
    stored = {s.panel_id: s for s in await shop.catalog.all()}
    assert len(stored) == len(sim.services)
    for sim_service in sim.services.values():
        got = stored[str(sim_service.service)]
        assert (got.name, got.category) == (sim_service.name.strip(), sim_service.category)
        assert (got.rate, got.min, got.max) == (sim_service.rate, sim_service.min, sim_service.max)
        assert got.description == ((sim_service.desc or "").strip() or None)
    sellable = await shop.catalog.sellable()
    assert len(sellable) > 2000  # the four types the shop sells; the rest stored, not sold

    again = await shop.catalog.sync()
    assert (again.new, again.updated, again.removed) == (0, 0, 0)

    # the next sync: services gone, one renamed and re-categorised, one new
    gone = list(sim.services)[:50]
    for service_id in gone:
        del sim.services[service_id]
    first = next(iter(sim.services.values()))
    first.name, first.category = "🆕 " + first.name, "🆕 New Services"
    newcomer = next(iter(sim.services.values()))
    sim.services[999_999] = type(newcomer)(
        999_999, "<b>Views</b> & more", "Default", "YouTube Views | Non Drop",
        Decimal("0.00012345"), 1, 1,
    )  # fmt: skip
    third = await shop.catalog.sync()
    assert (third.new, third.updated, third.removed) == (1, 1, 50)
    after = {s.panel_id: s for s in await shop.catalog.all()}
    assert all(after[str(i)].removed for i in gone)
    assert after["999999"].rate == Decimal("0.00012345")
    # a service the panel lists again comes back
    sim.services[gone[0]] = type(newcomer)(gone[0], "back", "Default", "X", Decimal(1), 1, 2)
    assert (await shop.catalog.sync()).updated == 1
    assert not (await shop.catalog.get(after[str(gone[0])].id)).removed


async def test_odd_panel_values_neither_stop_the_sync_nor_reach_a_button(tmp_path: Path) -> None:
    """A number no database holds leaves that one service out (it used to fail the whole
    sync); a range no quantity fits is not sold; HTML-looking names read as typed."""
    from sandbox.panel import SimService
    from tests.botenv import PANEL_KEY, running_shop

    d = Decimal
    odd = [
        SimService(1, "<b>Views</b> & more", "Default", "Instagram Views", d("0.5"), 10, 1000),
        SimService(2, "huge max", "Default", "Instagram Views", d("1"), 10, 10**20),
        SimService(3, "huge rate", "Default", "Instagram Views", d("1e30"), 10, 100),
        SimService(4, "min > max", "Default", "Instagram Views", d("1"), 500, 100),
        SimService(5, "max 0", "Default", "Instagram Views", d("1"), 0, 0),
    ]
    sim = PanelSimulator(api_key=PANEL_KEY, services=odd, auto_advance=False)
    async with running_shop(tmp_path, sim=sim) as env:
        stored = {s.panel_id: s for s in await env.shop.catalog.all()}
        assert sorted(stored) == ["1", "4", "5"]
        assert [s.panel_id for s in await env.shop.catalog.sellable()] == ["1"]
        u = env.user(31)
        await u.send_text("🛒 주문하기")  # one platform, one category: straight to the list
        await u.wait_for(r"Instagram Views")
        assert f"#{stored['1'].id} <b>Views</b> & more" in u.last_bot_message().button_labels()
        assert [c for c in env.emu.calls if c.status == 400] == []
