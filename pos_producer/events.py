"""What a till records, as values, and the Avro records they become.

`PosSale` is one till event of `schemas/pos/pos_sale.avsc` (a sale, refund, void, discount
or cash movement; the Avro record is named PosSale for historical reasons) and
`PosHeartbeat` one record of `pos_heartbeat.avsc`. Both are checked when built (money is
an exact Decimal with at most 2 decimals, quantities are whole and positive, timestamps are
aware) and signed with `schemas.pos.signing` over their Avro-ready record.

Totals follow the schema: total = sum(qty * unit_price) - discount_amount, so a standalone
discount has a negative total (the revenue it takes back); cash movements have none.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from platform_common.money import MAX_AMOUNT, is_whole_cents, to_cents_half_even
from schemas.pos.signing import sign

MAX_INT = 2**31 - 1  # Avro int

SALE = "sale"
REFUND = "refund"
VOID = "void"
DISCOUNT = "discount"
CASH_IN = "cash_in"
CASH_OUT = "cash_out"
EVENT_TYPES = (SALE, REFUND, VOID, DISCOUNT, CASH_IN, CASH_OUT)
REVERSALS = (REFUND, VOID)  # events that name the receipt they reverse


def money(value: object, what: str, *, allow_zero: bool = True) -> Decimal:
    """`value` as KGS money, or TypeError/ValueError. Floats are refused, never rounded."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal (money is never a float), got {value!r}")
    if not value.is_finite() or not is_whole_cents(value):
        raise ValueError(f"{what} must have at most 2 decimals: {value}")
    if value < 0 or (value == 0 and not allow_zero) or value > MAX_AMOUNT:  # decimal(12, 2)
        raise ValueError(f"{what} out of range: {value}")
    return to_cents_half_even(value)


def whole(value: object, what: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r}")
    if not minimum <= value <= MAX_INT:
        raise ValueError(f"{what} must be between {minimum} and {MAX_INT}, got {value}")
    return value


def device_time(value: datetime) -> datetime:
    """UTC, truncated to the millisecond: what Avro timestamp-millis keeps, so the signature
    over the decoded record is the signature over the recorded one."""
    if value.tzinfo is None:
        raise ValueError("event_time must be timezone-aware")
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _uuid(value: object, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    raise TypeError(f"{what} must be a UUID, got {value!r}")


def _optional_text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string or None")
    return value


@dataclass(frozen=True, kw_only=True)
class Item:
    """One line: the variant (or, when the till does not know it, the scanned barcode),
    how many units and the price of one unit in KGS."""

    variant_id: uuid.UUID | None = None
    barcode: str | None = None
    qty: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        if self.variant_id is None and self.barcode is None:
            raise ValueError("an item needs a variant_id or a barcode")
        if self.variant_id is not None:
            object.__setattr__(self, "variant_id", _uuid(self.variant_id, "variant_id"))
        _optional_text(self.barcode, "barcode")
        whole(self.qty, "qty", minimum=1)
        object.__setattr__(self, "unit_price", money(self.unit_price, "unit_price"))

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.qty

    def to_record(self) -> dict[str, Any]:
        return {
            "variant_id": str(self.variant_id) if self.variant_id else None,
            "barcode": self.barcode,
            "qty": self.qty,
            "unit_price": self.unit_price,
        }


@dataclass(frozen=True, kw_only=True)
class StockLevel:
    """What the till believes is on the shelf for one product (heartbeat diagnostics)."""

    variant_id: uuid.UUID | None = None
    barcode: str | None = None
    sku: str | None = None
    qty: int

    def __post_init__(self) -> None:
        if self.variant_id is None and self.barcode is None and self.sku is None:
            raise ValueError("a stock level needs a variant_id, barcode or sku")
        if self.variant_id is not None:
            object.__setattr__(self, "variant_id", _uuid(self.variant_id, "variant_id"))
        _optional_text(self.barcode, "barcode")
        _optional_text(self.sku, "sku")
        whole(self.qty, "qty", minimum=-MAX_INT)  # a till can believe it oversold

    def to_record(self) -> dict[str, Any]:
        return {
            "variant_id": str(self.variant_id) if self.variant_id else None,
            "barcode": self.barcode,
            "sku": self.sku,
            "qty": self.qty,
        }


@dataclass(frozen=True, kw_only=True)
class PosSale:
    """A till event (record kg.bazaar.pos.PosSale, version 2)."""

    device_id: str
    shop_id: uuid.UUID
    receipt_number: str
    items: tuple[Item, ...] = ()
    event_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    sale_id: uuid.UUID = field(default_factory=uuid.uuid4)
    event_type: str = SALE
    sequence_number: int = 0  # 0 = not set (what version 1 meant)
    original_receipt_number: str | None = None
    discount_amount: Decimal | None = None
    cash_amount: Decimal | None = None
    # Derived from the items and the discount when not given; checked when given.
    total: Decimal | None = None
    signature: str | None = None

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"event_type must be one of {EVENT_TYPES}, got {self.event_type!r}")
        if not self.device_id or not self.receipt_number:
            raise ValueError("device_id and receipt_number are required")
        object.__setattr__(self, "shop_id", _uuid(self.shop_id, "shop_id"))
        object.__setattr__(self, "sale_id", _uuid(self.sale_id, "sale_id"))
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "event_time", device_time(self.event_time))
        whole(self.sequence_number, "sequence_number", minimum=0)
        for item in self.items:
            if not isinstance(item, Item):
                raise TypeError(f"items must be Item values, got {item!r}")
        self._check_shape()
        expected = self._expected_total()
        if self.total is None:
            object.__setattr__(self, "total", expected)
        elif expected is None or self.total != expected:
            raise ValueError(f"total {self.total} does not match the items ({expected})")

    def _check_shape(self) -> None:
        kind = self.event_type
        if kind in (SALE, REFUND) and not self.items:
            raise ValueError(f"a {kind} has at least one item")
        if kind in (DISCOUNT, CASH_IN, CASH_OUT) and self.items:
            raise ValueError(f"a {kind} has no items")
        if kind in REVERSALS:
            _optional_text(self.original_receipt_number, "original_receipt_number")
            if self.original_receipt_number is None:
                raise ValueError(f"a {kind} names the receipt it reverses")
            if self.original_receipt_number == self.receipt_number:
                raise ValueError(f"a {kind} cannot reverse itself")
        elif kind != DISCOUNT and self.original_receipt_number is not None:
            raise ValueError(f"a {kind} does not reverse a receipt")
        if self.discount_amount is not None:
            # A void repeats the voided sale's discount, so its total is what was paid.
            if kind not in (SALE, DISCOUNT, VOID):
                raise ValueError(f"a {kind} carries no discount")
            money(self.discount_amount, "discount_amount", allow_zero=kind != DISCOUNT)
        elif kind == DISCOUNT:
            raise ValueError("a discount needs discount_amount")
        if kind in (CASH_IN, CASH_OUT):
            if self.cash_amount is None:
                raise ValueError(f"a {kind} needs cash_amount")
            money(self.cash_amount, "cash_amount", allow_zero=False)
        elif self.cash_amount is not None:
            raise ValueError(f"a {kind} carries no cash_amount")

    def _expected_total(self) -> Decimal | None:
        if self.event_type in (CASH_IN, CASH_OUT):
            return None
        subtotal = sum((i.amount for i in self.items), Decimal("0.00"))
        total = subtotal - (self.discount_amount or Decimal("0.00"))
        if self.event_type in (SALE, VOID) and total < 0:
            raise ValueError(f"discount {self.discount_amount} exceeds the receipt ({subtotal})")
        return to_cents_half_even(total)

    def to_record(self) -> dict[str, Any]:
        """The Avro-ready record (strings for uuids, Decimals, an aware datetime)."""
        return {
            "sale_id": str(self.sale_id),
            "device_id": self.device_id,
            "shop_id": str(self.shop_id),
            "receipt_number": self.receipt_number,
            "items": [i.to_record() for i in self.items],
            "event_time": self.event_time,
            "event_type": self.event_type,
            "sequence_number": self.sequence_number,
            "original_receipt_number": self.original_receipt_number,
            "discount_amount": self.discount_amount,
            "cash_amount": self.cash_amount,
            "total": self.total,
            "signature": self.signature,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PosSale:
        """Back from a decoded Avro record (version 1 records get version 2's defaults)."""
        return cls(
            sale_id=record["sale_id"],
            device_id=record["device_id"],
            shop_id=record["shop_id"],
            receipt_number=record["receipt_number"],
            items=tuple(
                Item(variant_id=i.get("variant_id"), barcode=i.get("barcode"), qty=i["qty"],
                     unit_price=i["unit_price"])
                for i in record["items"]
            ),
            event_time=record["event_time"],
            event_type=record.get("event_type", SALE),
            sequence_number=record.get("sequence_number", 0),
            original_receipt_number=record.get("original_receipt_number"),
            discount_amount=record.get("discount_amount"),
            cash_amount=record.get("cash_amount"),
            total=record.get("total"),
            signature=record.get("signature"),
        )

    def signed(self, secret: str | bytes) -> PosSale:
        return replace(self, signature=sign(self.to_record(), secret))


@dataclass(frozen=True, kw_only=True)
class PosHeartbeat:
    """A terminal saying it is alive (record kg.bazaar.pos.PosHeartbeat)."""

    device_id: str
    shop_id: uuid.UUID
    event_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    stock: tuple[StockLevel, ...] = ()
    status: str = "active"
    firmware_version: str | None = None
    sequence_number: int = 0
    heartbeat_id: uuid.UUID = field(default_factory=uuid.uuid4)
    signature: str | None = None

    def __post_init__(self) -> None:
        if not self.device_id:
            raise ValueError("device_id is required")
        if self.status not in ("active", "maintenance"):
            raise ValueError(f"status must be active or maintenance, got {self.status!r}")
        object.__setattr__(self, "shop_id", _uuid(self.shop_id, "shop_id"))
        object.__setattr__(self, "heartbeat_id", _uuid(self.heartbeat_id, "heartbeat_id"))
        object.__setattr__(self, "stock", tuple(self.stock))
        object.__setattr__(self, "event_time", device_time(self.event_time))
        whole(self.sequence_number, "sequence_number", minimum=0)
        _optional_text(self.firmware_version, "firmware_version")
        for level in self.stock:
            if not isinstance(level, StockLevel):
                raise TypeError(f"stock must be StockLevel values, got {level!r}")

    def to_record(self) -> dict[str, Any]:
        return {
            "heartbeat_id": str(self.heartbeat_id),
            "device_id": self.device_id,
            "shop_id": str(self.shop_id),
            "status": self.status,
            "firmware_version": self.firmware_version,
            "sequence_number": self.sequence_number,
            "event_time": self.event_time,
            "stock": [s.to_record() for s in self.stock],
            "signature": self.signature,
        }

    def signed(self, secret: str | bytes) -> PosHeartbeat:
        return replace(self, signature=sign(self.to_record(), secret))
