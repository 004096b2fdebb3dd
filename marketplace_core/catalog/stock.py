"""A variant's free stock (`product_variants.stock_qty`), as the other domains move it.

The catalog owns the column; the rules of when units leave or come back live with their
callers (`inventory` for orders and tills, `orders` for reservations). Each function here is
one statement in the caller's transaction; none emits an event (the caller emits
`variant.stock_changed` with its reason through `catalog.events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.db import Connection


@dataclass(frozen=True)
class SellableVariant:
    """A live variant of a live product, as an order or a till line sells it."""

    id: UUID
    product_id: UUID
    shop_id: UUID
    sku: str
    price: Decimal
    is_bundle: bool


@dataclass(frozen=True)
class BundleComponent:
    bundle_variant_id: UUID
    component_variant_id: UUID
    per_bundle: int
    component_deleted: bool


def sellable_variants(conn: Connection, variant_ids: Sequence[UUID]) -> dict[UUID, SellableVariant]:
    """The live variants (of live products) among `variant_ids`, by id; others are absent."""
    rows = conn.execute(
        "select v.id, v.product_id, v.shop_id, v.sku, v.price, p.is_bundle"
        "  from product_variants v join products p on p.id = v.product_id"
        " where v.id = any(%s) and v.deleted_at is null and p.deleted_at is null",
        (list(variant_ids),),
    ).fetchall()
    return {r[0]: SellableVariant(*r) for r in rows}


def bundle_components(
    conn: Connection, bundle_variant_ids: Sequence[UUID]
) -> list[BundleComponent]:
    """The components of the bundle variants (a bundle without components has no row)."""
    rows = conn.execute(
        "select p.id, bi.component_variant_id, bi.quantity, c.deleted_at is not null"
        "  from product_variants p"
        "  join bundle_items bi on bi.bundle_product_id = p.product_id"
        "  join product_variants c on c.id = bi.component_variant_id"
        " where p.id = any(%s)",
        (list(bundle_variant_ids),),
    ).fetchall()
    return [BundleComponent(*r) for r in rows]


def live_variants_by_id(
    conn: Connection, shop_id: UUID, ids: Sequence[UUID]
) -> dict[UUID, tuple[UUID, Decimal]]:
    """The shop's live variants among `ids`: id -> (id, price). Others are absent."""
    return _live_in_shop(conn, shop_id, "id", ids)


def live_variants_by_barcode(
    conn: Connection, shop_id: UUID, barcodes: Sequence[str]
) -> dict[str, tuple[UUID, Decimal]]:
    """The shop's live variants with these barcodes: barcode -> (id, price)."""
    return _live_in_shop(conn, shop_id, "barcode", barcodes)


def _live_in_shop(conn: Connection, shop_id: UUID, column: str,
                  keys: Sequence[Any]) -> dict[Any, tuple[UUID, Decimal]]:
    if not keys:
        return {}
    rows = conn.execute(
        f"select v.{column}, v.id, v.price from product_variants v"  # column is ours
        " join products p on p.id = v.product_id"
        f" where v.shop_id = %s and v.{column} = any(%s)"
        "   and v.deleted_at is null and p.deleted_at is null",
        (shop_id, list(keys))).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def take_if_available(conn: Connection, variant_id: UUID, qty: int) -> bool:
    """Take `qty` units out of the free stock if there are that many (one guarded UPDATE:
    of concurrent takers of the last unit exactly one succeeds)."""
    row = conn.execute(
        "update product_variants set stock_qty = stock_qty - %s, updated_at = now()"
        " where id = %s and stock_qty >= %s returning stock_qty",
        (qty, variant_id, qty),
    ).fetchone()
    return row is not None


def free_stock(conn: Connection, variant_id: UUID) -> int | None:
    """The variant's free stock (None: no such variant)."""
    row = conn.execute(
        "select stock_qty from product_variants where id = %s", (variant_id,)).fetchone()
    return int(row[0]) if row else None


def lock_free_stock(conn: Connection, variant_id: UUID) -> int | None:
    """The variant's free stock, its row locked until the transaction ends (None: none)."""
    row = conn.execute(
        "select stock_qty from product_variants where id = %s for update", (variant_id,)
    ).fetchone()
    return int(row[0]) if row else None


def put_back(conn: Connection, variant_id: UUID, qty: int) -> None:
    """Return `qty` units to the free stock."""
    conn.execute(
        "update product_variants set stock_qty = stock_qty + %s, updated_at = now()"
        " where id = %s", (qty, variant_id))


def set_free_stock(conn: Connection, variant_id: UUID, qty: int) -> None:
    """Set the free stock (after `lock_free_stock`: a till's move, clamped by the caller)."""
    conn.execute(
        "update product_variants set stock_qty = %s, updated_at = now() where id = %s",
        (qty, variant_id))
