"""The shop's business settings (built by bot/ from config.toml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ShopSettings:
    name: str = "MASK24"
    exchange_rate: Decimal = Decimal("1400")
    markup_percent: Decimal = Decimal("50")
    new_services_visible: bool = True
    quote_ttl_minutes: int = 15
    admin_ids: tuple[int, ...] = ()
    notify_started: bool = False
    poll_interval_seconds: float = 120.0
    not_started_alert_hours: int = 48
    stuck_order_hours: float = 72  # answered only with errors this long → review
    stalled_order_hours: float = 168  # panel answer unchanged this long → review
    refill_days: int = 30
    panel_balance_alert_below: Decimal = Decimal("5")
    topup_min: int = 5000
    topup_max: int = 2_000_000
    topup_expire_hours: int = 48
    krw_per_star: int | None = None
    timezone: str = "Asia/Seoul"
    support_phone: str = ""
    support_kakao_url: str = ""
    bank_account: str = ""
    card_min: int = 5000
    card_max: int = 2_000_000
    card_checkout_minutes: int = 15
    public_url: str | None = None  # the HTTP face's address (card pay pages)
    subscription_delays: tuple[int, ...] = field(default=(0, 5, 10, 15, 30, 60, 90))
    # The web console's address (web.public_url + its path) when the console is served;
    # login links are built from it.
    console_url: str | None = None
