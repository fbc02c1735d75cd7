"""The running shop: the Shop and what it owns, plus the fronts and jobs attached to it.

``open_shop`` builds the core (database, panel client, use-cases); bot/serving.py attaches
the Telegram application, the HTTP face and the scheduler to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from bot.config import Config
from fulfillment.client import PanelClient
from payments.gateway import CardGateway
from payments.toss import TossClient
from shop.clock import Clock, SystemClock
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database
from web.console import PREFIX as CONSOLE_PREFIX

if TYPE_CHECKING:
    from telegram.ext import Application


class NewsSender(Protocol):
    """A front's outbox deliverer: sends every due row of its customers, returns how many."""

    async def drain(self) -> int: ...


def shop_settings(config: Config) -> ShopSettings:
    return ShopSettings(
        name=config.shop.name,
        exchange_rate=config.shop.exchange_rate,
        markup_percent=config.shop.markup_percent,
        new_services_visible=config.shop.new_services_visible,
        quote_ttl_minutes=config.shop.quote_ttl_minutes,
        admin_ids=tuple(config.telegram.admin_ids),
        notify_started=config.scheduler.notify_started,
        poll_interval_seconds=config.scheduler.poll_interval_seconds,
        not_started_alert_hours=config.scheduler.not_started_alert_hours,
        stuck_order_hours=config.scheduler.stuck_order_hours,
        stalled_order_hours=config.scheduler.stalled_order_hours,
        panel_balance_alert_below=config.scheduler.panel_balance_alert_below,
        topup_min=config.topup.min_amount,
        topup_max=config.topup.max_amount,
        topup_expire_hours=config.topup.expire_hours,
        krw_per_star=config.topup.krw_per_star,
        timezone=config.support.timezone,
        support_phone=config.support.phone,
        support_kakao_url=config.support.kakao_url,
        bank_account=config.topup.bank_account,
        card_min=config.card.min_amount,
        card_max=config.card.max_amount,
        card_checkout_minutes=config.card.checkout_minutes,
        public_url=config.web.public_url,
        console_url=console_url(config),
    )


def console_url(config: Config) -> str | None:
    """Where the owner's console is reached (login links point there), if it is served."""
    if not (config.web.console and config.web.public_url):
        return None
    return config.web.public_url + CONSOLE_PREFIX


@dataclass
class ShopRuntime:
    """The shop, the resources it owns, and the fronts/jobs serving it; ``close`` releases
    the resources (bot/serving.py stops fronts and jobs first)."""

    shop: Shop
    db: Database
    panel: PanelClient
    config: Config | None = None
    # One outbox deliverer per front ("telegram", "kakao"), drained by the outbox job.
    senders: dict[str, NewsSender] = field(default_factory=dict)
    telegram: Application | None = None
    jobs: Any = None  # bot.jobs.Jobs when scheduling runs

    async def close(self) -> None:
        await self.panel.aclose()
        if self.shop.ctx.gateway is not None:
            await self.shop.ctx.gateway.aclose()
        await self.db.close()


async def open_shop(
    config: Config,
    *,
    clock: Clock | None = None,
    panel_transport: httpx.AsyncBaseTransport | None = None,
) -> ShopRuntime:
    db = await Database(config.storage.path).open()
    panel = PanelClient(
        config.provider.url,
        config.provider.key.get_secret_value(),
        timeout=config.provider.timeout_seconds,
        transport=panel_transport,
    )
    ctx = ShopContext(
        db=db, panel=panel, settings=shop_settings(config), clock=clock or SystemClock(),
        gateway=card_gateway(config),
    )  # fmt: skip
    return ShopRuntime(Shop(ctx), db, panel, config)


def card_gateway(config: Config) -> CardGateway | None:
    """The card PG client, when card top-up is offered (keys and a public address set)."""
    if not config.card_enabled:
        return None
    assert config.card.secret_key is not None
    # provider is validated to "toss"; another PG is one more branch here.
    return TossClient(config.card.secret_key.get_secret_value(), api_url=config.card.api_url)
