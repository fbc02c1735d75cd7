"""Pricing and refunds exactly as DESIGN.md fixes them: Decimal in, integer 원 out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.money import order_price, partial_refund, price_per_1000, units_from_charge

X, M = Decimal("1400"), Decimal("50")


@pytest.mark.parametrize(
    ("rate", "per_1000"),
    [
        ("9.80", 20580),  # 9.80 × 1400 × 1.5 exactly
        ("0.0002", 1),  # 0.42 원 → ceil → 1 원
        ("0.001", 3),  # 2.1 → 3
        ("1.0001", 2101),  # 2100.21 → 2101: always rounds up
        ("0", 1),  # never free
    ],
)
def test_price_per_1000_is_the_ceiling(rate: str, per_1000: int):
    assert price_per_1000(Decimal(rate), X, M) == per_1000


def test_price_per_1000_uses_decimal_not_float():
    # In float 0.7 × 100 is 70.00000000000001, which would ceil to 71.
    assert price_per_1000(Decimal("0.7"), Decimal(100), Decimal(0)) == 70


@pytest.mark.parametrize(
    ("per_1000", "quantity", "price"),
    [
        (20580, 1000, 20580),
        (20580, 100, 2058),
        (20580, 10, 206),  # 205.8 → 206
        (1, 10, 1),  # 0.01 → at least 1 원
        (1, 5000, 5),
        (2101, 1, 3),  # 2.101 → 3
    ],
)
def test_order_price_is_the_ceiling(per_1000: int, quantity: int, price: int):
    assert order_price(per_1000, quantity) == price


@pytest.mark.parametrize(
    ("price", "remains", "quantity", "refund"),
    [
        (2058, 50, 100, 1029),
        (206, 3, 10, 61),  # 61.8 → 61: floor, the shop never refunds a fraction too much
        (1000, 0, 100, 0),
        (1000, 100, 100, 1000),
        (1000, -5, 100, 0),  # the panel sometimes reports negative remains
        (1000, 250, 100, 1000),  # or more than was ordered: never refund more than paid
        (1, 1, 3, 0),
    ],
)
def test_partial_refund_floor_with_clamped_remains(
    price: int, remains: int, quantity: int, refund: int
):
    assert partial_refund(price, remains, quantity) == refund


def test_units_from_charge_rounds_down():
    assert units_from_charge(Decimal("0.98"), Decimal("9.80")) == 100
    assert units_from_charge(Decimal("0.99"), Decimal("9.80")) == 101
    assert units_from_charge(Decimal("1"), Decimal("0")) == 0
