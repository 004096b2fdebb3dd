"""Types shared by the API's request and response models."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, WithJsonSchema

_CENT = Decimal("0.01")


def _parse_money(value: Any) -> Decimal:
    # Floats are refused outright: 0.1 + 0.2 is not a price. Strings and ints are exact.
    if isinstance(value, (bool, float)):
        raise ValueError("money must be a decimal string such as \"1250.00\", not a float")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except Exception as exc:
        raise ValueError("money must be a decimal string such as \"1250.00\"") from exc
    if not amount.is_finite():
        raise ValueError("money must be a finite amount")
    if amount != amount.quantize(_CENT):
        raise ValueError("money has at most 2 decimal places (tyiyn)")
    if amount.copy_abs() > Decimal("9999999999.99"):
        raise ValueError("money amount is too large")
    return amount.quantize(_CENT)


Money = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d{1,10}(\.\d{1,2})?$",
                    "examples": ["1250.00"], "description": "KGS, as a decimal string"}),
]
"""A KGS amount: decimal string in JSON ("1250.00"), Decimal in Python."""


class ErrorDetail(BaseModel):
    code: str = Field(examples=["OUT_OF_STOCK"])
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the listed statuses documented with the error body."""
    descriptions = {400: "Bad request", 401: "Not authenticated", 403: "Not allowed",
                    404: "Not found", 409: "Conflict with the current state",
                    422: "Malformed input", 503: "Temporarily unavailable"}
    return {s: {"model": ErrorResponse, "description": descriptions.get(s, "Error")}
            for s in statuses}
