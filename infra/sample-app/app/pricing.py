"""Order quotes: unit price times quantity, the better of a bulk discount and a coupon,
then sales tax. Money is Decimal, rounded half up to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.08")
MAX_QUANTITY = 10_000
# (smallest quantity, discount), largest first
BULK_DISCOUNTS = ((100, Decimal("0.10")), (10, Decimal("0.05")))
COUPONS = {"WELCOME10": Decimal("0.10")}


@dataclass(frozen=True)
class Quote:
    """What an order costs, step by step."""

    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal

    def as_dict(self) -> dict[str, str]:
        """The quote as JSON-ready strings (exact cents, no float rounding)."""
        return {name: str(getattr(self, name)) for name in ("subtotal", "discount", "tax", "total")}


def parse_price(text: str) -> Decimal:
    """A positive amount with at most two decimals, or ValueError."""
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"price must be a number, not {text!r}") from None
    if not price.is_finite() or price <= 0:
        raise ValueError("price must be greater than zero")
    if price != price.quantize(CENT):
        raise ValueError("price has more than two decimals")
    return price


def parse_quantity(text: str) -> int:
    """A whole number from 1 to MAX_QUANTITY, or ValueError."""
    if not text.isdigit():
        raise ValueError(f"quantity must be a whole number, not {text!r}")
    quantity = int(text)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValueError(f"quantity must be between 1 and {MAX_QUANTITY}")
    return quantity


def discount_rate(quantity: int, coupon: str | None) -> Decimal:
    """The better of the bulk discount and the coupon's (they do not add up)."""
    bulk = next((rate for smallest, rate in BULK_DISCOUNTS if quantity >= smallest), Decimal(0))
    if coupon is None:
        return bulk
    code = coupon.strip().upper()
    if code not in COUPONS:
        raise ValueError(f"unknown coupon {coupon!r}")
    return max(bulk, COUPONS[code])


def quote(price: str, quantity: str, coupon: str | None = None) -> Quote:
    """Price an order from request values; ValueError names what is wrong with them."""
    unit_price, count = parse_price(price), parse_quantity(quantity)
    subtotal = (unit_price * count).quantize(CENT)
    discount = (subtotal * discount_rate(count, coupon)).quantize(CENT, ROUND_HALF_UP)
    tax = ((subtotal - discount) * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
    return Quote(subtotal, discount, tax, subtotal - discount + tax)
