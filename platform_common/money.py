"""Money: KGS amounts as `Decimal` with 2 places (the tyiyn), sent as decimal strings.

    from platform_common.money import Money
    class Price(BaseModel):
        amount: Money          # "1250.00" in JSON, Decimal("1250.00") in Python
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")


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
    if amount != amount.quantize(CENT):
        raise ValueError("money has at most 2 decimal places (tyiyn)")
    return amount.quantize(CENT)


def _validate_money(value: Any) -> Decimal:
    # The refusal carries the stable INVALID_MONEY code into the 422's details.
    try:
        return parse_money(value)
    except ValueError as exc:
        raise PydanticCustomError("INVALID_MONEY", str(exc)) from None


def format_money(amount: Decimal) -> str:
    """The wire form: always 2 places, no exponent ("1499.00", "-5.99", "0.00")."""
    return f"{amount.quantize(CENT):f}"


Money = Annotated[
    Decimal,
    BeforeValidator(_validate_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d{1,10}(\.\d{1,2})?$",
                    "examples": ["1250.00"], "description": "KGS, as a decimal string",
                    "x-validated": "money"}),
]
"""A KGS amount: decimal string in JSON ("1250.00"), Decimal in Python."""
