"""Pricing and refunds: Decimal in, integer 원 out, rounding as DESIGN.md fixes it."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def price_per_1000(rate: Decimal, exchange_rate: Decimal, markup_percent: Decimal) -> int:
    """ceil(rate × exchange_rate × (100 + markup) / 100), at least 1 원."""
    return max(1, _ceil(rate * exchange_rate * (100 + markup_percent) / 100))


def order_price(per_1000: int, quantity: int) -> int:
    """ceil(price_per_1000 × quantity / 1000), at least 1 원."""
    return max(1, _ceil(Decimal(per_1000) * quantity / 1000))


def partial_refund(price: int, remains: int, quantity: int) -> int:
    """floor(price × remains / quantity) with remains clamped to [0, quantity]."""
    remains = min(max(remains, 0), quantity)
    return int((Decimal(price) * remains / quantity).to_integral_value(rounding=ROUND_FLOOR))


def units_from_charge(charge: Decimal, rate: Decimal) -> int:
    """Units the panel delivered for ``charge`` at ``rate`` per 1000 (rounded down)."""
    if rate <= 0:
        return 0
    return int((charge * 1000 / rate).to_integral_value(rounding=ROUND_FLOOR))
