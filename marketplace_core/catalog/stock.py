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

from marketplace_core.catalog.events import STOCK_KEEPING_VARIANT_COLUMNS
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


@dataclass(frozen=True)
class TakeOutcome:
    """What `take_all` did: either every move was taken (`rows`: the variants after the
    change, as STOCK_KEEPING_VARIANT_COLUMNS, in id order) or none was (`short`: variant
    id -> units free, for every variant with fewer units than asked)."""

    rows: list[tuple[Any, ...]]
    short: dict[UUID, int]


# One statement, all or nothing: lock the variants in id order (two takers of the same
# variants never deadlock), decrement them only if every one has enough, and return what
# the events need. No savepoint is needed to undo a partial take: there is none.
_TAKE_ALL_SQL = f"""
with want(id, qty) as (select * from unnest(%s::uuid[], %s::int[])),
locked as (
    select v.id, v.stock_qty, w.qty from product_variants v join want w on w.id = v.id
     order by v.id for update of v),
taken as (
    update product_variants v set stock_qty = v.stock_qty - l.qty, updated_at = now()
      from locked l, products p
     where v.id = l.id and p.id = v.product_id
       and not exists (select 1 from locked s where s.stock_qty < s.qty)
       and (select count(*) from locked) = (select count(*) from want)
    returning {STOCK_KEEPING_VARIANT_COLUMNS})
select true, taken.* from taken
union all
select false, l.id, null, null, null, null, null, null, null, l.stock_qty, null, null
  from locked l where not exists (select 1 from taken)
"""


def take_all(conn: Connection, moves: dict[UUID, int]) -> TakeOutcome:
    """Take `moves` (variant id -> units) out of the free stock, all or none. A variant
    that does not exist counts as having 0 units."""
    ids = sorted(moves)
    rows = conn.execute(_TAKE_ALL_SQL, (ids, [moves[i] for i in ids])).fetchall()
    taken = sorted((tuple(r[1:]) for r in rows if r[0]), key=lambda r: r[0])
    if taken:
        return TakeOutcome(taken, {})
    free = {r[1]: int(r[9]) for r in rows}  # id, stock_qty (columns as above)
    return TakeOutcome([], {i: free.get(i, 0) for i in ids if free.get(i, 0) < moves[i]})


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
