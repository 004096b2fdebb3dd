"""Money: KGS amounts as `Decimal` with 2 places (the tyiyn), sent as decimal strings.

    from platform_common.money import Money
    class Price(BaseModel):
        amount: Money          # "1250.00" in JSON, Decimal("1250.00") in Python

The one place that defines the quantum (`CENT`, one tyiyn) and the roundings to it: each
names its rounding mode, so a call site says which one it means.

    to_cents_half_even(Decimal("0.125"))   # 0.12  (ties to even: Decimal's default)
    to_cents_half_up(Decimal("39.995"))    # 40.00 (ties away from zero: fees, reports)
    to_cents_down(Decimal("0.129"))        # 0.12  (toward zero: shares of a total)
    is_whole_cents(Decimal("12.5"))        # True; "0.125" is not
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")
"""The money quantum: one tyiyn, 0.01 KGS."""
MAX_AMOUNT = Decimal("9999999999.99")
"""The largest amount numeric(12, 2) and the Avro decimal(12, 2) hold."""


def is_whole_cents(amount: Decimal) -> bool:
    """True if `amount` has no digit below the tyiyn ("12.5", "3", not "0.125")."""
    return amount == amount.quantize(CENT)


def to_cents_half_even(amount: Decimal) -> Decimal:
    """`amount` on 2 places, ties to even (0.125 → 0.12, 0.135 → 0.14). On an amount in
    whole tyiyn it only sets the exponent: 5 → 5.00."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def to_cents_half_up(amount: Decimal) -> Decimal:
    """`amount` on 2 places, ties away from zero: 39.995 → 40.00."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents_down(amount: Decimal) -> Decimal:
    """`amount` on 2 places, truncated toward zero: 0.129 → 0.12, -0.129 → -0.12."""
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def parse_money(value: Any) -> Decimal:
    """An exact amount with at most 2 places, quantized to 2 places; ValueError otherwise.

    Floats are refused outright: 0.1 + 0.2 is not a price. Strings, ints and Decimals are
    exact."""
    if isinstance(value, (bool, float)):
        raise ValueError("money must be a decimal string such as \"1250.00\", not a float")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except Exception as exc:
        raise ValueError("money must be a decimal string such as \"1250.00\"") from exc
    if not amount.is_finite():
        raise ValueError("money must be a finite amount")
    # the size first: quantizing a 40-digit number overflows the decimal context
    if amount.copy_abs() > MAX_AMOUNT:
        raise ValueError("money amount is too large")
    if not is_whole_cents(amount):
        raise ValueError("money has at most 2 decimal places (tyiyn)")
    return to_cents_half_even(amount)


def _validate_money(value: Any) -> Decimal:
    # The refusal carries the stable INVALID_MONEY code into the 422's details.
    try:
        return parse_money(value)
    except ValueError as exc:
        raise PydanticCustomError("INVALID_MONEY", str(exc)) from None


def format_money(amount: Decimal) -> str:
    """The wire form: always 2 places, no exponent ("1499.00", "-5.99", "0.00")."""
    return f"{to_cents_half_even(amount):f}"


Money = Annotated[
    Decimal,
    BeforeValidator(_validate_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d{1,10}(\.\d{1,2})?$",
                    "examples": ["1250.00"], "description": "KGS, as a decimal string",
                    "x-validated": "money"}),
]
"""A KGS amount: decimal string in JSON ("1250.00"), Decimal in Python."""
