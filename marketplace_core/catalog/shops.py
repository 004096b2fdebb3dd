"""Shops of a merchant: public details and the payout status payments decides."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.catalog.events import (
    emit_shop_changed,
)
from marketplace_core.catalog.records import (
    _SHOP_COLS,
    PAYOUT_STATUSES,
    UNSET,
    Shop,
    _coordinate,
    _fetch_one,
    _insert,
    _optional_text,
    _require_text,
    _Unset,
    _write,
)
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ErrorCode,
    NotFoundError,
    ValidationError,
)


def create_shop(
    conn: Connection,
    merchant_id: UUID,
    name: str,
    *,
    address: str | None = None,
    phone: str | None = None,
    lat: Decimal | None = None,
    lon: Decimal | None = None,
    market: str | None = None,
    payout_status: str = "active",
    id: UUID | None = None,
) -> Shop:
    """A shop of a merchant. Emits shop.created. Raises MERCHANT_NOT_FOUND."""
    if payout_status not in PAYOUT_STATUSES:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"payout_status must be one of {PAYOUT_STATUSES}")
    params = {
        "id": id, "merchant_id": merchant_id, "name": _require_text(name, "name"),
        "address": _optional_text(address, "address"),
        "phone": _optional_text(phone, "phone"),
        "lat": _coordinate(lat, "lat", 90), "lon": _coordinate(lon, "lon", 180),
        "market": _optional_text(market, "market"), "payout_status": payout_status,
    }
    with conn.transaction():
        result: Shop = _insert(
            conn, Shop,
            "insert into shops (id, merchant_id, name, address, phone, lat, lon, market,"
            " payout_status) values (coalesce(%(id)s, gen_random_uuid()), %(merchant_id)s,"
            " %(name)s, %(address)s, %(phone)s, %(lat)s, %(lon)s, %(market)s,"
            f" %(payout_status)s) returning {_SHOP_COLS}",
            params,
        )
        emit_shop_changed(conn, result.id, "shop.created")
    return result


def update_shop(
    conn: Connection,
    shop_id: UUID,
    *,
    name: str | None = None,
    address: str | _Unset | None = UNSET,
    phone: str | _Unset | None = UNSET,
    lat: Decimal | _Unset | None = UNSET,
    lon: Decimal | _Unset | None = UNSET,
    market: str | _Unset | None = UNSET,
) -> Shop:
    """Change a shop's public details (not its payout status: `set_shops_payout_status`).
    Emits shop.updated when anything was given. Raises SHOP_NOT_FOUND."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _require_text(name, "name")
    for column, value in (("address", address), ("phone", phone), ("market", market)):
        if value is not UNSET:
            changes[column] = _optional_text(value, column)
    if lat is not UNSET:
        changes["lat"] = _coordinate(lat, "lat", 90)
    if lon is not UNSET:
        changes["lon"] = _coordinate(lon, "lon", 180)
    assignments = ", ".join(f"{c} = %({c})s" for c in changes) or "id = id"
    with conn.transaction():
        row: Shop | None = _write(
            conn, Shop,
            f"update shops set {assignments} where id = %(id)s returning {_SHOP_COLS}",
            {**changes, "id": shop_id},
        )
        if row is None:
            raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
        if changes:
            emit_shop_changed(conn, shop_id, "shop.updated")
    return row


def set_shops_payout_status(conn: Connection, merchant_id: UUID, status: str) -> list[UUID]:
    """Turn all the merchant's shops' payout_status to `status` (payout onboarding and
    suspension call this; they own the decision, the catalog owns the row). Emits
    shop.updated for each shop whose status changed; returns those shops' ids."""
    if status not in PAYOUT_STATUSES:
        raise ValueError(f"payout_status must be one of {PAYOUT_STATUSES}")
    with conn.transaction():
        changed = [r[0] for r in conn.execute(
            "update shops set payout_status = %s where merchant_id = %s"
            " and payout_status <> %s returning id",
            (status, merchant_id, status)).fetchall()]
        for shop_id in sorted(changed):
            emit_shop_changed(conn, shop_id, "shop.updated")
    return changed


def get_shop(conn: Connection, shop_id: UUID) -> Shop | None:
    row: Shop | None = _fetch_one(
        conn, Shop, f"select {_SHOP_COLS} from shops where id = %s", (shop_id,))
    return row


def get_shops(conn: Connection, shop_ids: Sequence[UUID]) -> list[Shop]:
    """The shops with these ids, in no particular order (unknown ids are skipped)."""
    with conn.cursor(row_factory=class_row(Shop)) as cur:
        return cur.execute(
            f"select {_SHOP_COLS} from shops where id = any(%s)".encode(),
            (list(shop_ids),),
        ).fetchall()


def shop_ids_of_merchant(conn: Connection, merchant_id: UUID) -> list[UUID]:
    """The ids of the merchant's shops, in id order."""
    rows = conn.execute(
        "select id from shops where merchant_id = %s order by id", (merchant_id,)).fetchall()
    return [r[0] for r in rows]


def merchant_of_shop(conn: Connection, shop_id: UUID) -> UUID | None:
    """The merchant selling through the shop (None: no such shop)."""
    row = conn.execute("select merchant_id from shops where id = %s", (shop_id,)).fetchone()
    return row[0] if row else None


def list_shops(conn: Connection, *, merchant_id: UUID | None = None) -> list[Shop]:
    with conn.cursor(row_factory=class_row(Shop)) as cur:
        return cur.execute(
            f"select {_SHOP_COLS} from shops"
            " where %(m)s::uuid is null or merchant_id = %(m)s order by name, id".encode(),
            {"m": merchant_id},
        ).fetchall()
