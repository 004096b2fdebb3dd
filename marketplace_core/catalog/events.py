"""Catalog change events: the full state of a catalog entity after a committed change.

Call these in the transaction that made the change, after the row was written (or
locked): the snapshot is read back from the database, so it is exactly what commits.
Topics: `core.products` (product.created / updated / deleted), `core.variants`
(variant.created / updated / price_changed / stock_changed / deleted), `core.merchants`
(merchant.created / updated), `core.shops` (shop.created / updated) and
`core.categories` (category.created / updated).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from marketplace_core.catalog.bundles import availability_sql
from marketplace_core.catalog.translations import LANGUAGES
from marketplace_core.db import Connection
from marketplace_core.outbox import emit
from schemas.topics import (
    CORE_CATEGORIES,
    CORE_MERCHANTS,
    CORE_PRODUCTS,
    CORE_SHOPS,
    CORE_VARIANTS,
)

PRODUCT_EVENTS = ("product.created", "product.updated", "product.deleted")
VARIANT_EVENTS = ("variant.created", "variant.updated", "variant.price_changed",
                  "variant.stock_changed", "variant.deleted")
MERCHANT_EVENTS = ("merchant.created", "merchant.updated")
SHOP_EVENTS = ("shop.created", "shop.updated")
CATEGORY_EVENTS = ("category.created", "category.updated")
STOCK_REASONS = ("reservation", "reservation_expired", "order_cancelled", "refund",
                 "pos_sale", "pos_refund", "pos_void", "manual", "import")

_TEXT_COLUMNS = [f"p.name_{lang}" for lang in LANGUAGES] + [
    f"p.description_{lang}" for lang in LANGUAGES]

_PRODUCT_SQL = f"""
select p.id, p.shop_id, s.merchant_id, p.category_id, p.is_bundle,
       p.deleted_at is not null as is_deleted,
       coalesce((select json_agg(json_build_object(
                    'variant_id', bi.component_variant_id, 'quantity', bi.quantity)
                    order by bi.component_variant_id)
                 from bundle_items bi where bi.bundle_product_id = p.id), '[]'::json),
       {", ".join(_TEXT_COLUMNS)}
from products p join shops s on s.id = p.shop_id
where p.id = %s
"""

_VARIANT_SQL = f"""
select v.id, v.product_id, v.shop_id, v.sku, v.barcode, v.qr_code, v.attributes, v.price,
       case when p.is_bundle then {availability_sql("p.id")} else v.stock_qty end,
       p.is_bundle, v.deleted_at is not null or p.deleted_at is not null
from product_variants v join products p on p.id = v.product_id
where v.id = %s
"""


def emit_product_changed(conn: Connection, product_id: UUID, event_type: str) -> UUID:
    """Publish the product's current state on core.products; returns the event id."""
    if event_type not in PRODUCT_EVENTS:
        raise ValueError(f"unknown product event type {event_type!r}")
    row = conn.execute(_PRODUCT_SQL, (product_id,)).fetchone()
    if row is None:
        raise LookupError(f"product {product_id} does not exist")
    pid, shop_id, merchant_id, category_id, is_bundle, is_deleted, items, *texts = row
    record = {
        "product_id": pid, "shop_id": shop_id, "merchant_id": merchant_id,
        "category_id": str(category_id) if category_id else None,
        **dict(zip([c.removeprefix("p.") for c in _TEXT_COLUMNS], texts, strict=True)),
        "is_bundle": is_bundle,
        "bundle_items": [{"variant_id": i["variant_id"], "quantity": i["quantity"]}
                         for i in items],
        "is_deleted": is_deleted,
    }
    return emit(conn, CORE_PRODUCTS, entity_type="product", entity_id=pid,
                event_type=event_type, record=record)


def emit_variant_changed(
    conn: Connection,
    variant_id: UUID,
    event_type: str,
    *,
    stock_delta: int = 0,
    reason: str | None = None,
) -> UUID:
    """Publish the variant's current state on core.variants; returns the event id.

    `stock_delta` is how much stock_qty moved in this change (negative when taken),
    `reason` why (see STOCK_REASONS). For a bundle's variant, stock_qty is the derived
    availability of the bundle.
    """
    if event_type not in VARIANT_EVENTS:
        raise ValueError(f"unknown variant event type {event_type!r}")
    if reason is not None and reason not in STOCK_REASONS:
        raise ValueError(f"unknown stock reason {reason!r}")
    row = conn.execute(_VARIANT_SQL, (variant_id,)).fetchone()
    if row is None:
        raise LookupError(f"variant {variant_id} does not exist")
    return _emit_variant_row(conn, tuple(row), event_type, stock_delta, reason)


# The columns of a variant's event as an UPDATE of a stock-keeping (non-bundle) variant
# `v` joined to its product `p` can return them: `catalog.stock.take_all` returns these,
# so a stock move publishes its events without reading the rows back.
STOCK_KEEPING_VARIANT_COLUMNS = (
    "v.id, v.product_id, v.shop_id, v.sku, v.barcode, v.qr_code, v.attributes, v.price,"
    " v.stock_qty, p.is_bundle, v.deleted_at is not null or p.deleted_at is not null")


def emit_variant_rows(
    conn: Connection, rows: list[tuple[Any, ...]], event_type: str, *,
    stock_deltas: dict[UUID, int], reason: str,
) -> list[UUID]:
    """`emit_variant_changed` for variants whose current rows the caller already holds
    (selected as STOCK_KEEPING_VARIANT_COLUMNS in this transaction, after the change)."""
    if event_type not in VARIANT_EVENTS or reason not in STOCK_REASONS:
        raise ValueError(f"unknown variant event {event_type!r} or reason {reason!r}")
    return [_emit_variant_row(conn, row, event_type, stock_deltas[row[0]], reason)
            for row in rows]


def _emit_variant_row(conn: Connection, row: tuple[Any, ...], event_type: str,
                      stock_delta: int, reason: str | None) -> UUID:
    vid, product_id, shop_id, sku, barcode, qr_code, attrs, price, stock, is_bundle, gone = row
    record = {
        "variant_id": vid, "product_id": product_id, "shop_id": shop_id, "sku": sku,
        "barcode": barcode, "qr_code": qr_code,
        "attributes_json": json.dumps(attrs, ensure_ascii=False, sort_keys=True),
        "price": price, "stock_qty": int(stock), "stock_delta": stock_delta,
        "reason": reason, "is_bundle": is_bundle, "is_deleted": gone,
    }
    return emit(conn, CORE_VARIANTS, entity_type="variant", entity_id=vid,
                event_type=event_type, record=record)


def emit_merchant_changed(conn: Connection, merchant_id: UUID, event_type: str) -> UUID:
    """Publish the merchant's current state on core.merchants; returns the event id."""
    if event_type not in MERCHANT_EVENTS:
        raise ValueError(f"unknown merchant event type {event_type!r}")
    row = conn.execute("select id, name, created_at from merchants where id = %s",
                       (merchant_id,)).fetchone()
    if row is None:
        raise LookupError(f"merchant {merchant_id} does not exist")
    mid, name, created_at = row
    return emit(conn, CORE_MERCHANTS, entity_type="merchant", entity_id=mid,
                event_type=event_type,
                record={"merchant_id": mid, "name": name, "created_at": created_at})


def emit_shop_changed(conn: Connection, shop_id: UUID, event_type: str) -> UUID:
    """Publish the shop's current state on core.shops; returns the event id. The shop's
    contact phone is left out (it is often the stall keeper's own number)."""
    if event_type not in SHOP_EVENTS:
        raise ValueError(f"unknown shop event type {event_type!r}")
    row = conn.execute(
        "select id, merchant_id, name, market, address, lat, lon, payout_status, created_at"
        " from shops where id = %s", (shop_id,)).fetchone()
    if row is None:
        raise LookupError(f"shop {shop_id} does not exist")
    sid, merchant_id, name, market, address, lat, lon, payout_status, created_at = row
    record = {
        "shop_id": sid, "merchant_id": merchant_id, "name": name, "market": market,
        "address": address, "lat": lat, "lon": lon, "status": payout_status,
        "created_at": created_at,
    }
    return emit(conn, CORE_SHOPS, entity_type="shop", entity_id=sid, event_type=event_type,
                record=record)


_CATEGORY_NAMES = [f"name_{lang}" for lang in LANGUAGES]


def emit_category_changed(conn: Connection, category_id: UUID, event_type: str) -> UUID:
    """Publish the category's current state on core.categories; returns the event id."""
    if event_type not in CATEGORY_EVENTS:
        raise ValueError(f"unknown category event type {event_type!r}")
    row = conn.execute(
        f"select id, parent_id, slug, sort_order, {', '.join(_CATEGORY_NAMES)}"
        " from categories where id = %s", (category_id,)).fetchone()
    if row is None:
        raise LookupError(f"category {category_id} does not exist")
    cid, parent_id, slug, sort_order, *names = row
    record = {
        "category_id": cid, "parent_id": str(parent_id) if parent_id else None, "slug": slug,
        **dict(zip(_CATEGORY_NAMES, names, strict=True)), "sort_order": sort_order,
    }
    return emit(conn, CORE_CATEGORIES, entity_type="category", entity_id=cid,
                event_type=event_type, record=record)
