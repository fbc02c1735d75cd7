"""The shop: one object every front (Telegram, KakaoTalk, the web face) talks to."""

from __future__ import annotations

from shop.access import AdminAccess
from shop.admin import AdminService
from shop.alerts import AlertService
from shop.cards import CardService
from shop.catalog import CatalogService
from shop.console import ConsoleService
from shop.context import ShopContext
from shop.conversations import ConversationService
from shop.fulfilment import FulfilmentService
from shop.orders import OrderService
from shop.support import SupportState, state_at
from shop.topups import TopupService
from shop.users import UserService
from storage import ledger


class Shop:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.users = UserService(ctx)
        self.catalog = CatalogService(ctx)
        self.fulfilment = FulfilmentService(ctx)
        self.orders = OrderService(ctx, self.catalog, self.fulfilment)
        self.topups = TopupService(ctx)
        self.cards = CardService(ctx, ctx.gateway)
        self.alerts = AlertService(ctx)
        self.admin = AdminService(ctx, self.catalog, self.orders)
        self.access = AdminAccess(ctx)
        self.console = ConsoleService(ctx, self.catalog, self.orders, self.admin, self.users)
        self.conversations = ConversationService(ctx)

    def support_state(self) -> SupportState:
        return state_at(self.ctx.now(), self.settings.timezone)

    def is_admin(self, telegram_id: int) -> bool:
        return telegram_id in self.settings.admin_ids

    async def healthy(self) -> bool:
        return await self.ctx.db.ping()

    async def check_ledger(self) -> dict[str, list[tuple]]:
        return await ledger.check_invariants(self.ctx.db.reader)
