"""What an order holds of a shop's stock (`stock_reservations`, one row per order and
stock-keeping variant): the units `inventory.take_stock` took out of the free stock.

A reservation is `held`, then either `consumed` (goods handed over) or `released` (units
back to stock through `inventory.put_back`). The status guard makes a release happen at most
once. Every function runs in the caller's (the order's) transaction.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from marketplace_core.db import Connection
from marketplace_core.inventory import service as inventory


def hold(
    conn: Connection, order_id: UUID, taken: inventory.TakenStock, *, until: datetime,
    now: datetime,
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
    return inventory.put_back(conn, {variant_id: qty for variant_id, qty in held},
                              reason=reason)


def held_units(conn: Connection, variant_id: UUID) -> int:
    """Units of a variant currently held by orders (not part of its free stock_qty)."""
    row = conn.execute(
        "select coalesce(sum(qty), 0) from stock_reservations"
        " where variant_id = %s and status = 'held'", (variant_id,)).fetchone()
    return int(row[0]) if row else 0
