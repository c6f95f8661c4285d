"""Order quotes: validation, discounts, tax and rounding."""

from decimal import Decimal

import pytest
from app.pricing import discount_rate, quote


def test_a_plain_order_pays_tax_on_the_subtotal() -> None:
    priced = quote("12.50", "2")
    assert priced.as_dict() == {"subtotal": "25.00", "discount": "0.00", "tax": "2.00", "total": "27.00"}


@pytest.mark.parametrize(("quantity", "rate"), [(1, "0"), (9, "0"), (10, "0.05"), (99, "0.05"), (100, "0.10")])
def test_bulk_discounts_start_at_ten_and_a_hundred(quantity: int, rate: str) -> None:
    assert discount_rate(quantity, None) == Decimal(rate)


def test_the_better_of_bulk_and_coupon_applies() -> None:
    assert discount_rate(10, "welcome10") == Decimal("0.10")
    assert discount_rate(100, "WELCOME10") == Decimal("0.10")


def test_cents_round_half_up() -> None:
    priced = quote("0.05", "1", "WELCOME10")  # 0.005 discount, 0.0036 tax
    assert (priced.discount, priced.tax, priced.total) == (Decimal("0.01"), Decimal("0.00"), Decimal("0.04"))


@pytest.mark.parametrize(("price", "quantity", "coupon", "problem"), [
    ("abc", "1", None, "price must be a number"),
    ("0", "1", None, "greater than zero"),
    ("-3", "1", None, "greater than zero"),
    ("NaN", "1", None, "greater than zero"),
    ("1.999", "1", None, "more than two decimals"),
    ("1", "1.5", None, "whole number"),
    ("1", "0", None, "between 1 and"),
    ("1", "10001", None, "between 1 and"),
    ("1", "1", "FREE", "unknown coupon"),
])
def test_bad_input_is_named(price: str, quantity: str, coupon: str | None, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        quote(price, quantity, coupon)
