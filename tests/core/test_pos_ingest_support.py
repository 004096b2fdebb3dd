"""Helpers for the POS ingest tests: terminals with credentials, signed till events and
heartbeats built the way a terminal builds them (the Avro record shape of schemas/pos/)."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from marketplace_core.catalog import barcodes
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.pos import credentials
from marketplace_core.pos.credentials import DeviceCredentials
from schemas.pos.signing import sign

_receipts = itertools.count(1)


def new_barcode() -> str:
    return barcodes.ean13_with_check("470" + f"{secrets.randbelow(10**9):09d}")


def make_variant(conn: Connection, shop_id: UUID, *, price: str = "1500.00", stock: int = 10,
                 barcode: str | None = None) -> UUID:
    product = catalog.create_product(conn, shop_id, f"Товар {secrets.token_hex(3)}")
    return catalog.create_variant(conn, product.id, f"SKU-{secrets.token_hex(4)}",
                                  Decimal(price), stock_qty=stock, barcode=barcode).id


def make_device(conn: Connection, shop_id: UUID) -> DeviceCredentials:
    device_id = f"POS-{secrets.randbelow(10**9):09d}"
    return credentials.register_with_credentials(conn, shop_id, device_id=device_id)


def till_event(
    creds: DeviceCredentials,
    items: list[tuple[UUID | str, int, str]],
    *,
    event_type: str = "sale",
    receipt_number: str | None = None,
    sequence_number: int = 0,
    original_receipt_number: str | None = None,
    discount_amount: str | None = None,
    cash_amount: str | None = None,
    total: str | None = "auto",
    shop_id: UUID | None = None,
    secret: str | None = None,
    event_time: datetime | None = None,
) -> dict[str, Any]:
    """A signed v2 till event; an item is (variant id or barcode string, qty, unit price)."""
    lines = [{"variant_id": str(ref) if isinstance(ref, UUID) else None,
              "barcode": ref if isinstance(ref, str) else None,
              "qty": qty, "unit_price": Decimal(price)} for ref, qty, price in items]
    if total == "auto":
        amount = sum((Decimal(price) * qty for _, qty, price in items), Decimal("0"))
        total = str(amount - Decimal(discount_amount or "0"))
    record: dict[str, Any] = {
        "sale_id": str(uuid4()),
        "device_id": creds.device_id,
        "shop_id": str(shop_id or creds.shop_id),
        "receipt_number": receipt_number or f"R-{next(_receipts):06d}-{secrets.token_hex(2)}",
        "items": lines,
        "event_time": event_time or datetime.now(UTC).replace(microsecond=0),
        "event_type": event_type,
        "sequence_number": sequence_number,
        "original_receipt_number": original_receipt_number,
        "discount_amount": Decimal(discount_amount) if discount_amount else None,
        "cash_amount": Decimal(cash_amount) if cash_amount else None,
        "total": Decimal(total) if total is not None else None,
        "signature": None,
    }
    record["signature"] = sign(record, secret or creds.secret)
    return record


def heartbeat(creds: DeviceCredentials, *, firmware_version: str | None = "3.1.0",
              stock: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "heartbeat_id": str(uuid4()), "device_id": creds.device_id,
        "shop_id": str(creds.shop_id), "status": "active",
        "firmware_version": firmware_version, "sequence_number": 0,
        "event_time": datetime.now(UTC).replace(microsecond=0),
        "stock": stock or [], "signature": None,
    }
    record["signature"] = sign(record, creds.secret)
    return record


def stock_of(conn: Connection, variant_id: UUID) -> int:
    row = conn.execute("select stock_qty from product_variants where id = %s",
                       (variant_id,)).fetchone()
    assert row is not None
    return int(row[0])


def counters(conn: Connection, device_id: str) -> dict[str, int]:
    row = conn.execute(
        "select applied, duplicates, rejected, heartbeats, oversold_units"
        " from pos_ingest_counters where device_id = %s", (device_id,)).fetchone()
    names = ("applied", "duplicates", "rejected", "heartbeats", "oversold_units")
    return dict(zip(names, row or (0, 0, 0, 0, 0), strict=True))
