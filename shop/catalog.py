"""The catalog: sync from the panel, what customers can buy, the owner's overrides."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from fulfillment.models import PanelService
from shop import money
from shop.catalog_menu import CatalogMenu
from shop.context import ShopContext
from shop.models import Service
from storage import kv, services
from storage.db import Connection
from storage.services import ServiceRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncReport:
    new: int
    updated: int
    removed: int
    total: int


# A panel can send any number. A service whose numbers the shop cannot store or price is
# left out of the sync with a warning, rather than failing the whole catalog with it.
MAX_QUANTITY = 2**53
MAX_RATE = Decimal(10**9)  # per 1000 units, in the panel's currency


def storable(s: PanelService) -> bool:
    return 0 <= s.min <= MAX_QUANTITY and 0 <= s.max <= MAX_QUANTITY and 0 <= s.rate <= MAX_RATE


SETTINGS_NS = "shop_settings"
MARKUP_KEY = "markup_percent"


class CatalogService:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx
        # The owner can change the markup from chat; it overrides config.toml's value.
        self._markup: Decimal | None = None
        # The catalog is read on every step of every order and changes only through this
        # process (sync, or the admin via ``forget``), so it is kept in memory.
        self._cache: dict[int, Service] | None = None
        self._menu: CatalogMenu | None = None  # the browsing index, built from the cache
        self._menu_source: dict[int, Service] | None = None

    def forget(self) -> None:
        """Drop the in-memory catalog; the next read loads it again."""
        self._cache = None
        self._menu = None

    async def _services(self) -> dict[int, Service]:
        if self._cache is None:
            rows = await services.all_services(self.ctx.db.reader)
            self._cache = {r["id"]: Service.from_row(r) for r in rows}
        return self._cache

    async def load_overrides(self) -> None:
        stored = await kv.get(self.ctx.db.reader, SETTINGS_NS, MARKUP_KEY)
        self._markup = None if stored is None else Decimal(stored)

    @property
    def markup_percent(self) -> Decimal:
        return self.ctx.settings.markup_percent if self._markup is None else self._markup

    async def store_markup(self, conn: Connection, percent: Decimal) -> Decimal:
        """Write a new global markup in the caller's transaction; returns the old one.
        Call ``load_overrides`` after the commit to start using it."""
        old = self.markup_percent
        await kv.put(conn, SETTINGS_NS, MARKUP_KEY, str(percent), self.ctx.now_iso())
        return old

    async def sync(self) -> SyncReport:
        """Fetch the panel's list (outside any transaction), then apply it in one."""
        await self.load_overrides()
        listed = await self.ctx.panel.services()
        odd = [s.service_id for s in listed if not storable(s)]
        if odd:
            log.warning("catalog sync: %d service(s) with absurd numbers left out: %s",
                        len(odd), ", ".join(odd[:20]))  # fmt: skip
            listed = [s for s in listed if storable(s)]
        rows = [
            ServiceRow(
                panel_id=s.service_id,
                name=s.name,
                category=s.category,
                type=s.type.value,
                raw_type=s.raw_type,
                rate=str(s.rate),
                min_qty=s.min,
                max_qty=s.max,
                refill=s.refill,
                cancel=s.cancel,
                dripfeed=s.dripfeed,
                description=s.description,
            )
            for s in listed
        ]
        async with self.ctx.db.transaction() as conn:
            # An empty answer is more likely a panel hiccup than an empty shop: apply_sync
            # removes nothing then.
            counts = await services.apply_sync(
                conn, rows, self.ctx.now_iso(), self.ctx.settings.new_services_visible
            )
        self.forget()
        await self.menu()  # built here, in the job, not in the next customer's turn
        report = SyncReport(counts.new, counts.updated, counts.removed, len(listed))
        log.info("catalog sync: %s", report)
        return report

    def price_per_1000(self, service: Service) -> int:
        if service.price_override is not None:
            return service.price_override
        return money.price_per_1000(
            service.rate, self.ctx.settings.exchange_rate, self.markup_percent
        )

    async def sellable(self) -> list[Service]:
        return [s for s in await self.all() if s.sellable]

    async def categories(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in await self.sellable():
            seen.setdefault(s.category, None)
        return list(seen)

    async def in_category(self, category: str) -> list[Service]:
        return [s for s in await self.sellable() if s.category == category]

    async def menu(self) -> CatalogMenu:
        """The sellable catalog grouped platform → category → service, with search."""
        services = await self._services()
        if self._menu is None or self._menu_source is not services:
            listed = sorted(services.values(), key=lambda s: (s.category, s.id))
            self._menu = CatalogMenu(s for s in listed if s.sellable)
            self._menu_source = services  # a sync racing the build is noticed next time
        return self._menu

    async def get(self, service_id: int) -> Service | None:
        return (await self._services()).get(service_id)

    async def all(self) -> list[Service]:
        """Every service, ordered by category then id (as the catalog is shown)."""
        return sorted((await self._services()).values(), key=lambda s: (s.category, s.id))
