"""Builders shared by the orders / eligibility tests (no tests here).

Everything goes through the real services on the caller's connection: buyers through the
accounts service (cheap BCrypt cost), shops/products/variants through the catalog, POS
terminals through the POS service.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.accounts import service as accounts
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.outbox.writer import decode
from marketplace_core.pos import service as pos
from schemas.topics import Topic

FAST_ROUNDS = 4


def make_buyer(conn: Connection) -> UUID:
    reg = accounts.register_user(
        conn, email=f"buyer-{secrets.token_hex(6)}@test.example.kg",
        password="correct horse battery staple", full_name="Test buyer", role="buyer",
        password_rounds=FAST_ROUNDS)
    return reg.user.id


def make_shop(
    conn: Connection, *, payout_status: str = "active", phone: str | None = "+996555123456",
    merchant_id: UUID | None = None,
) -> tuple[UUID, UUID]:
    """(merchant_id, shop_id) of a new shop (a new merchant unless one is given)."""
    if merchant_id is None:
        merchant_id = catalog.create_merchant(conn, f"Merchant {secrets.token_hex(4)}").id
    shop = catalog.create_shop(conn, merchant_id, f"Shop {secrets.token_hex(4)}",
                               phone=phone, payout_status=payout_status,
                               address="Bishkek, Dordoi market")
    return merchant_id, shop.id


def make_variant(
    conn: Connection, shop_id: UUID, *, price: Decimal = Decimal("100.00"), stock: int = 10,
) -> UUID:
    product = catalog.create_product(conn, shop_id, f"Товар {secrets.token_hex(3)}")
    return catalog.create_variant(
        conn, product.id, f"SKU-{secrets.token_hex(4)}", price, stock_qty=stock).id


def new_device_id() -> str:
    return f"POS-{secrets.randbelow(10**8):08d}"


def register_device(conn: Connection, shop_id: UUID, *, status: str = "active") -> str:
    device_id = new_device_id()
    pos.register_device(conn, device_id, shop_id, status=status)
    return device_id


def make_online_shop(conn: Connection, now: datetime) -> tuple[UUID, UUID, str]:
    """(merchant_id, shop_id, device_id) of a shop whose terminal was heard at `now`."""
    merchant_id, shop_id = make_shop(conn)
    device_id = register_device(conn, shop_id)
    pos.record_heartbeat(conn, device_id, now=now)
    return merchant_id, shop_id, device_id


def stock_of(conn: Connection, variant_id: UUID) -> int:
    row = conn.execute(
        "select stock_qty from product_variants where id = %s", (variant_id,)).fetchone()
    assert row is not None
    return int(row[0])


def events(conn: Connection, topic: Topic, entity_id: UUID | str) -> list[dict[str, Any]]:
    """The decoded outbox records of one entity on one topic, oldest first."""
    rows = conn.execute(
        "select payload from outbox where topic = %s and entity_id = %s order by id",
        (topic.name, str(entity_id))).fetchall()
    return [decode(topic, bytes(r[0])) for r in rows]
