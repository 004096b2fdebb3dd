"""The POS sale as the terminal records it, and its Avro record (schemas/pos/pos_sale.avsc)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class SaleItem:
    variant_id: uuid.UUID
    qty: int
    unit_price: Decimal  # KGS

    def __post_init__(self) -> None:
        if self.qty < 1:
            raise ValueError(f"qty must be at least 1, got {self.qty}")
        if not isinstance(self.unit_price, Decimal):
            raise TypeError("unit_price must be a Decimal (money is never a float)")
        if self.unit_price < 0 or self.unit_price != self.unit_price.quantize(CENT):
            raise ValueError(f"unit_price must be >= 0 with at most 2 decimals: {self.unit_price}")


@dataclass(frozen=True)
class PosSale:
    device_id: str
    shop_id: uuid.UUID
    receipt_number: str
    items: tuple[SaleItem, ...]
    event_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    sale_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("a sale has at least one item")
        if self.event_time.tzinfo is None:
            raise ValueError("event_time must be timezone-aware")

    @property
    def total(self) -> Decimal:
        return sum((i.unit_price * i.qty for i in self.items), Decimal("0.00"))

    def to_record(self) -> dict[str, object]:
        return {
            "sale_id": str(self.sale_id),
            "device_id": self.device_id,
            "shop_id": str(self.shop_id),
            "receipt_number": self.receipt_number,
            "items": [
                {"variant_id": str(i.variant_id), "qty": i.qty,
                 "unit_price": i.unit_price.quantize(CENT)}
                for i in self.items
            ],
            "event_time": self.event_time,
        }
