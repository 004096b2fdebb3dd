"""Bundles: a product that sells other variants of its shop together, with quantities.

A bundle product has exactly one variant of its own (its SKU, barcode and the price the
seller sets); what it contains lives in `bundle_items`. It keeps no stock of its own: its
availability is min over components of floor(component stock / quantity), computed from
the components' current stock (a deleted component makes the bundle unavailable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError

MAX_COMPONENTS = 50
MAX_QUANTITY = 10_000


def availability_sql(product: str) -> str:
    """SQL for a bundle's availability; `product` is the SQL expression of its product id."""
    return (
        "(select coalesce(min(case when c.deleted_at is null"
        " then c.stock_qty / bi.quantity else 0 end), 0)"
        " from bundle_items bi join product_variants c on c.id = bi.component_variant_id"
        f" where bi.bundle_product_id = {product})"
    )


@dataclass(frozen=True)
class BundleItem:
    variant_id: UUID
    quantity: int


def validate_items(
    conn: Connection, shop_id: UUID, items: Sequence[BundleItem]
) -> list[BundleItem]:
    """The items, checked: 1..50 distinct live non-bundle variants of `shop_id`, each with a
    quantity of 1..10000. Locks the components (FOR SHARE) so they cannot be deleted before
    the caller's transaction ends. Raises INVALID_BUNDLE."""
    if not items:
        raise ValidationError(ErrorCode.INVALID_BUNDLE, "a bundle needs at least one component")
    if len(items) > MAX_COMPONENTS:
        raise ValidationError(
            ErrorCode.INVALID_BUNDLE, f"a bundle has at most {MAX_COMPONENTS} components")
    seen: set[UUID] = set()
    for item in items:
        qty = item.quantity
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_QUANTITY:
            raise ValidationError(
                ErrorCode.INVALID_BUNDLE, f"component quantity must be 1..{MAX_QUANTITY}")
        if item.variant_id in seen:
            raise ValidationError(
                ErrorCode.INVALID_BUNDLE, f"component {item.variant_id} is listed twice")
        seen.add(item.variant_id)
    rows = conn.execute(
        "select v.id from product_variants v join products p on p.id = v.product_id"
        " where v.id = any(%s) and v.shop_id = %s and v.deleted_at is null"
        " and p.deleted_at is null and not p.is_bundle"
        " order by v.id for share of v",
        (list(seen), shop_id),
    ).fetchall()
    found = {r[0] for r in rows}
    missing = [str(v) for v in seen if v not in found]
    if missing:
        raise ValidationError(
            ErrorCode.INVALID_BUNDLE,
            "components must be live, non-bundle variants of the same shop: "
            + ", ".join(sorted(missing)))
    return list(items)


def replace_items(
    conn: Connection, product_id: UUID, shop_id: UUID, items: Sequence[BundleItem]
) -> None:
    """Make `items` (already validated) the bundle's whole content."""
    conn.execute("delete from bundle_items where bundle_product_id = %s", (product_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into bundle_items (bundle_product_id, shop_id, component_variant_id,"
            " quantity) values (%s, %s, %s, %s)",
            [(product_id, shop_id, i.variant_id, i.quantity) for i in items],
        )


def items_of(conn: Connection, product_id: UUID) -> list[BundleItem]:
    """A bundle product's components (empty for an ordinary product)."""
    rows = conn.execute(
        "select component_variant_id, quantity from bundle_items"
        " where bundle_product_id = %s order by component_variant_id",
        (product_id,),
    ).fetchall()
    return [BundleItem(r[0], r[1]) for r in rows]


def bundle_components(conn: Connection, variant_id: UUID) -> list[BundleItem]:
    """What selling one unit of `variant_id` takes from stock, if it is a bundle's variant:
    its components and quantities (empty for an ordinary variant). For order reservation."""
    rows = conn.execute(
        "select bi.component_variant_id, bi.quantity from product_variants v"
        " join bundle_items bi on bi.bundle_product_id = v.product_id"
        " where v.id = %s order by bi.component_variant_id",
        (variant_id,),
    ).fetchall()
    return [BundleItem(r[0], r[1]) for r in rows]


def availability(conn: Connection, product_id: UUID) -> int:
    """How many units of the bundle its components' stock allows right now."""
    row = conn.execute(f"select {availability_sql('%s')}", (product_id,)).fetchone()
    return int(row[0]) if row else 0


def live_bundles_containing(conn: Connection, variant_ids: Sequence[UUID]) -> list[UUID]:
    """Live bundle products that list any of these variants as a component."""
    rows = conn.execute(
        "select distinct bi.bundle_product_id from bundle_items bi"
        " join products p on p.id = bi.bundle_product_id"
        " where bi.component_variant_id = any(%s) and p.deleted_at is null",
        (list(variant_ids),),
    ).fetchall()
    return [r[0] for r in rows]
