"""Stock movements for orders and tills: the rules of taking units out of a variant's free
stock (`catalog.stock`, the catalog's `product_variants.stock_qty`) and putting them back.

`stock_qty` is the FREE quantity: reserved units are already taken out, so the catalog,
the product card and POS sales never sell them twice. An order's decrement is one
statement (`catalog.stock.take_all`): it locks the variants in id order, so two orders over
the same variants in a different order cannot deadlock, and takes every line or none, so
of N buyers racing for the last unit exactly one gets it; the others get OUT_OF_STOCK.

What an order holds is the orders domain's (`orders.reservations`, one row per order and
variant): it calls `put_back` here when a reservation is released. Every stock move emits
`variant.stock_changed` through the catalog's event helper. This module owns no table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog import stock as catalog_stock
from marketplace_core.catalog.events import emit_variant_changed, emit_variant_rows
from marketplace_core.catalog.stock import SellableVariant
from marketplace_core.db import Connection
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError, ValidationError

MAX_LINE_QTY = 10_000


class OutOfStockError(ConflictError):
    """Not enough free stock; `details` lists the variants short of stock."""

    def __init__(self, shortages: list[dict[str, Any]]) -> None:
        super().__init__(
            ErrorCode.OUT_OF_STOCK,
            "not enough stock for " + ", ".join(str(s["variant_id"]) for s in shortages))
        self.details = shortages


@dataclass(frozen=True)
class PricedLine:
    """One line of an order as sold: the variant asked for, at its price in the database."""

    variant_id: UUID
    product_id: UUID
    sku: str
    qty: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.qty


@dataclass(frozen=True)
class TakenStock:
    """What `take_stock` did: the priced order lines, and the units taken per stock-keeping
    variant (a bundle's units come out of its components' stock)."""

    lines: list[PricedLine]
    moves: dict[UUID, int]


def take_stock(
    conn: Connection, shop_id: UUID, lines: dict[UUID, int], *, reason: str = "reservation"
) -> TakenStock:
    """Decrement the free stock for an order's lines, all or nothing.

    `lines` maps variant id -> qty (>= 1). A bundle variant holds no stock: its quantity
    times each component's quantity is taken from the components. Raises INVALID_QUANTITY,
    VARIANT_NOT_FOUND (unknown or deleted), VARIANT_NOT_IN_SHOP (every variant must belong
    to `shop_id`: one order, one shop), OUT_OF_STOCK (details: `[{variant_id, requested,
    available}]` for every short stock variant). Prices come from the database, never from
    the caller.
    """
    for variant_id, qty in lines.items():
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_LINE_QTY:
            raise ValidationError(
                ErrorCode.INVALID_QUANTITY,
                f"qty of {variant_id} must be an integer from 1 to {MAX_LINE_QTY}")
    sellables = _sellables(conn, shop_id, sorted(lines))
    moves = _stock_moves(conn, sellables, lines)
    outcome = catalog_stock.take_all(conn, moves)
    if outcome.short:
        raise OutOfStockError([
            {"variant_id": str(variant_id), "requested": moves[variant_id],
             "available": available}
            for variant_id, available in sorted(outcome.short.items())])
    emit_variant_rows(conn, outcome.rows, "variant.stock_changed",
                      stock_deltas={v: -qty for v, qty in moves.items()}, reason=reason)
    priced = [
        PricedLine(v.id, v.product_id, v.sku, lines[v.id], v.price) for v in sellables
    ]
    return TakenStock(priced, moves)


def _sellables(conn: Connection, shop_id: UUID, variant_ids: list[UUID]) -> list[SellableVariant]:
    found = catalog_stock.sellable_variants(conn, variant_ids)
    for variant_id in variant_ids:
        variant = found.get(variant_id)
        if variant is None:
            raise NotFoundError(
                ErrorCode.VARIANT_NOT_FOUND, f"variant {variant_id} does not exist")
        if variant.shop_id != shop_id:
            raise ValidationError(
                ErrorCode.VARIANT_NOT_IN_SHOP,
                f"variant {variant_id} is not sold by shop {shop_id}: one order, one shop")
    return [found[v] for v in variant_ids]


def _stock_moves(
    conn: Connection, sellables: list[SellableVariant], lines: dict[UUID, int]
) -> dict[UUID, int]:
    moves: dict[UUID, int] = {}
    bundles = [v for v in sellables if v.is_bundle]
    for v in sellables:
        if not v.is_bundle:
            moves[v.id] = moves.get(v.id, 0) + lines[v.id]
    if bundles:
        with_components = set()
        for c in catalog_stock.bundle_components(conn, [b.id for b in bundles]):
            with_components.add(c.bundle_variant_id)
            if c.component_deleted:  # a bundle with a deleted component cannot be sold
                raise NotFoundError(
                    ErrorCode.VARIANT_NOT_FOUND,
                    f"bundle {c.bundle_variant_id} contains a deleted variant"
                    f" {c.component_variant_id}")
            moves[c.component_variant_id] = (
                moves.get(c.component_variant_id, 0)
                + c.per_bundle * lines[c.bundle_variant_id])
        empty = [b.id for b in bundles if b.id not in with_components]
        if empty:
            raise NotFoundError(
                ErrorCode.VARIANT_NOT_FOUND, f"bundle {empty[0]} has no components")
    return moves


def put_back(conn: Connection, moves: dict[UUID, int], *, reason: str) -> int:
    """Return units to the free stock (a released reservation): variant -> qty, touched in
    variant-id order (as `take_stock`), each emitting `variant.stock_changed` with `reason`
    (reservation_expired, order_cancelled, refund). Returns the units returned."""
    returned = 0
    for variant_id, qty in sorted(moves.items()):
        catalog_stock.put_back(conn, variant_id, qty)
        emit_variant_changed(conn, variant_id, "variant.stock_changed",
                             stock_delta=qty, reason=reason)
        returned += qty
    return returned


# --- POS till events (marketplace_core.pos.ingest) -----------------------------------------

POS_REASONS = ("pos_sale", "pos_refund", "pos_void")


@dataclass(frozen=True)
class TillMove:
    """What one till move did to a stock-keeping variant: the delta really applied and the
    units the till sold beyond the stock the platform knew (`shortage`)."""

    variant_id: UUID
    delta: int
    shortage: int


def till_stock_units(conn: Connection, shop_id: UUID, lines: dict[UUID, int]) -> dict[UUID, int]:
    """Units per stock-keeping variant for till lines (variant -> qty): a bundle's units
    are its components'. Raises VARIANT_NOT_FOUND, VARIANT_NOT_IN_SHOP."""
    return _stock_moves(conn, _sellables(conn, shop_id, sorted(lines)), lines)


def apply_till_moves(conn: Connection, moves: dict[UUID, int], *, reason: str) -> list[TillMove]:
    """Apply a till's signed stock moves (negative = units left the shop).

    A till sale is a real sale even when the platform thinks the goods are gone (a miscount,
    units held for an online order): stock is clamped at 0 and the units short are
    reported, never refused. Rows are touched in variant-id order (as `take_stock`), and
    each move emits `variant.stock_changed` with `reason` (pos_sale / pos_refund / pos_void).
    """
    if reason not in POS_REASONS:
        raise ValueError(f"not a till reason: {reason!r}")
    done: list[TillMove] = []
    for variant_id in sorted(moves):
        wanted = moves[variant_id]
        if wanted == 0:
            continue
        before = catalog_stock.lock_free_stock(conn, variant_id)
        if before is None:
            raise NotFoundError(ErrorCode.VARIANT_NOT_FOUND, f"variant {variant_id} does not exist")
        after = max(before + wanted, 0)
        catalog_stock.set_free_stock(conn, variant_id, after)
        emit_variant_changed(conn, variant_id, "variant.stock_changed",
                             stock_delta=after - before, reason=reason)
        done.append(TillMove(variant_id, after - before, max(-(before + wanted), 0)))
    return done
