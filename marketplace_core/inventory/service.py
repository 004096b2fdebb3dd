"""Stock movements for orders: taking units out of `product_variants.stock_qty` when an
order reserves them, and putting them back when the reservation is released.

`stock_qty` is the FREE quantity: reserved units are already taken out, so the catalog,
the product card and POS sales never sell them twice. The decrement is one guarded UPDATE
(`stock_qty >= qty`), atomic under concurrency: of N buyers racing for the last unit
exactly one UPDATE matches; the others see 0 rows and get OUT_OF_STOCK. Rows are always
touched in variant-id order, so two orders over the same variants in a different order
cannot deadlock.

A reservation row (`stock_reservations`, one per order and variant) remembers what was
taken; it is `held`, then either `consumed` (goods handed over) or `released` (units back
to stock). The status guard makes a release happen at most once. Every stock move emits
`variant.stock_changed` through the catalog's event helper.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog.events import emit_variant_changed
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


@dataclass(frozen=True)
class _Sellable:
    id: UUID
    product_id: UUID
    shop_id: UUID
    sku: str
    price: Decimal
    is_bundle: bool


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
    shortages: list[dict[str, Any]] = []
    with conn.transaction():  # a savepoint: a shortage undoes the units already taken
        for variant_id in sorted(moves):  # stable lock order: no deadlocks between orders
            qty = moves[variant_id]
            row = conn.execute(
                "update product_variants set stock_qty = stock_qty - %s, updated_at = now()"
                " where id = %s and stock_qty >= %s returning stock_qty",
                (qty, variant_id, qty),
            ).fetchone()
            if row is None:
                available = conn.execute(
                    "select stock_qty from product_variants where id = %s", (variant_id,)
                ).fetchone()
                shortages.append({"variant_id": str(variant_id), "requested": qty,
                                  "available": int(available[0]) if available else 0})
        if shortages:
            raise OutOfStockError(shortages)
        for variant_id in sorted(moves):
            emit_variant_changed(conn, variant_id, "variant.stock_changed",
                                 stock_delta=-moves[variant_id], reason=reason)
    priced = [
        PricedLine(v.id, v.product_id, v.sku, lines[v.id], v.price) for v in sellables
    ]
    return TakenStock(priced, moves)


def _sellables(conn: Connection, shop_id: UUID, variant_ids: list[UUID]) -> list[_Sellable]:
    rows = conn.execute(
        "select v.id, v.product_id, v.shop_id, v.sku, v.price, p.is_bundle"
        "  from product_variants v join products p on p.id = v.product_id"
        " where v.id = any(%s) and v.deleted_at is null and p.deleted_at is null",
        (variant_ids,),
    ).fetchall()
    found = {r[0]: _Sellable(*r) for r in rows}
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
    conn: Connection, sellables: list[_Sellable], lines: dict[UUID, int]
) -> dict[UUID, int]:
    moves: dict[UUID, int] = {}
    bundles = [v for v in sellables if v.is_bundle]
    for v in sellables:
        if not v.is_bundle:
            moves[v.id] = moves.get(v.id, 0) + lines[v.id]
    if bundles:
        rows = conn.execute(
            "select p.id, bi.component_variant_id, bi.quantity, c.deleted_at is not null"
            "  from product_variants p"
            "  join bundle_items bi on bi.bundle_product_id = p.product_id"
            "  join product_variants c on c.id = bi.component_variant_id"
            " where p.id = any(%s)",
            ([b.id for b in bundles],),
        ).fetchall()
        with_components = set()
        for bundle_variant, component, per_bundle, deleted in rows:
            with_components.add(bundle_variant)
            if deleted:  # a bundle with a deleted component cannot be sold
                raise NotFoundError(
                    ErrorCode.VARIANT_NOT_FOUND,
                    f"bundle {bundle_variant} contains a deleted variant {component}")
            moves[component] = moves.get(component, 0) + per_bundle * lines[bundle_variant]
        empty = [b.id for b in bundles if b.id not in with_components]
        if empty:
            raise NotFoundError(
                ErrorCode.VARIANT_NOT_FOUND, f"bundle {empty[0]} has no components")
    return moves


def hold(
    conn: Connection, order_id: UUID, taken: TakenStock, *, until: datetime, now: datetime
) -> None:
    """Record the units taken for an order as `held` until `until`."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into stock_reservations (order_id, variant_id, qty, reserved_until,"
            " created_at) values (%s, %s, %s, %s, %s)",
            [(order_id, variant_id, qty, until, now)
             for variant_id, qty in sorted(taken.moves.items())],
        )


def extend(conn: Connection, order_id: UUID, *, until: datetime) -> None:
    """Move the deadline of the order's held units (after payment: until pickup)."""
    conn.execute(
        "update stock_reservations set reserved_until = %s"
        " where order_id = %s and status = 'held'", (until, order_id))


def consume(conn: Connection, order_id: UUID, *, now: datetime) -> int:
    """The goods left the shop: the held units are sold for good (stock stays down).
    Returns the number of reservation rows closed."""
    cur = conn.execute(
        "update stock_reservations set status = 'consumed', closed_at = %s,"
        " close_reason = 'completed' where order_id = %s and status = 'held'",
        (now, order_id))
    return cur.rowcount


def release(conn: Connection, order_id: UUID, *, reason: str, now: datetime) -> int:
    """Put the order's held units back into stock, once: rows already released or consumed
    are left alone. `reason` is the variant event's reason (reservation_expired,
    order_cancelled, refund). Returns the number of units returned."""
    held = conn.execute(
        "update stock_reservations set status = 'released', closed_at = %s,"
        " close_reason = %s where order_id = %s and status = 'held'"
        " returning variant_id, qty",
        (now, reason, order_id),
    ).fetchall()
    returned = 0
    for variant_id, qty in sorted(held):  # same lock order as take_stock
        conn.execute(
            "update product_variants set stock_qty = stock_qty + %s, updated_at = now()"
            " where id = %s", (qty, variant_id))
        emit_variant_changed(conn, variant_id, "variant.stock_changed",
                             stock_delta=qty, reason=reason)
        returned += qty
    return returned


def held_units(conn: Connection, variant_id: UUID) -> int:
    """Units of a variant currently held by orders (not part of its free stock_qty)."""
    row = conn.execute(
        "select coalesce(sum(qty), 0) from stock_reservations"
        " where variant_id = %s and status = 'held'", (variant_id,)).fetchone()
    return int(row[0]) if row else 0



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
        row = conn.execute(
            "select stock_qty from product_variants where id = %s for update", (variant_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(ErrorCode.VARIANT_NOT_FOUND, f"variant {variant_id} does not exist")
        before = int(row[0])
        after = max(before + wanted, 0)
        conn.execute(
            "update product_variants set stock_qty = %s, updated_at = now() where id = %s",
            (after, variant_id))
        emit_variant_changed(conn, variant_id, "variant.stock_changed",
                             stock_delta=after - before, reason=reason)
        done.append(TillMove(variant_id, after - before, max(-(before + wanted), 0)))
    return done
