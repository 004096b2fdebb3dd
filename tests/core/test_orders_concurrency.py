"""Concurrency of stock reservation against the real Postgres, with committed data:
50 buyers racing for the last unit, and orders locking variants in opposite orders."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from marketplace_core.db import transaction
from marketplace_core.errors import DomainError
from marketplace_core.orders import pickup
from marketplace_core.orders import service as orders
from marketplace_core.orders.service import OrderRequest
from schemas.topics import CORE_VARIANTS
from tests.core.test_orders_support import (
    events,
    make_buyer,
    make_online_shop,
    make_variant,
    stock_of,
)

BUYERS = 50


def _race(core_dsn: str, jobs: list[Callable[[psycopg.Connection[Any]], object]]) -> list[str]:
    """Run each job in its own thread and connection, all released at once; returns
    "ok" or the DomainError code (or the exception type) per job."""
    outcomes: list[str] = ["?"] * len(jobs)
    connections = [psycopg.connect(core_dsn) for _ in jobs]
    start = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        start.wait()
        try:
            with transaction(connections[i]) as conn:
                jobs[i](conn)
            outcomes[i] = "ok"
        except DomainError as exc:
            outcomes[i] = exc.code
        except Exception as exc:  # a deadlock or anything else must show up in the result
            outcomes[i] = type(exc).__name__

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for c in connections:
            c.close()
    return outcomes


def _setup(core_dsn: str, stocks: list[int], buyers: int) -> tuple[UUID, list[UUID], UUID,
                                                                   list[UUID]]:
    now = datetime.now(UTC)
    with transaction(core_dsn) as conn:
        _, shop_id, _ = make_online_shop(conn, now)
        variants = [make_variant(conn, shop_id, stock=s) for s in stocks]
        slot = pickup.create_slot(conn, shop_id, starts_at=now, ends_at=now + timedelta(hours=23),
                                  capacity=10_000, now=now).id
        buyer_ids = [make_buyer(conn) for _ in range(buyers)]
    return shop_id, variants, slot, buyer_ids


def test_fifty_buyers_race_for_the_last_unit(core_dsn):
    shop_id, (variant,), slot, buyers = _setup(core_dsn, [1], BUYERS)

    def buy(buyer: UUID) -> Callable[[psycopg.Connection[Any]], object]:
        return lambda conn: orders.place_order(conn, buyer, OrderRequest.of(
            shop_id, [(variant, 1)], "pickup", pickup_slot_id=slot))

    outcomes = _race(core_dsn, [buy(b) for b in buyers])
    assert Counter(outcomes) == {"ok": 1, "OUT_OF_STOCK": BUYERS - 1}
    with psycopg.connect(core_dsn) as conn:
        assert stock_of(conn, variant) == 0
        moves = [e for e in events(conn, CORE_VARIANTS, variant)
                 if e["event_type"] == "variant.stock_changed"]
        assert [(e["stock_qty"], e["stock_delta"]) for e in moves] == [(0, -1)]
        assert all(e["stock_qty"] >= 0 for e in events(conn, CORE_VARIANTS, variant))
        placed = conn.execute(
            "select count(*) from orders where shop_id = %s", (shop_id,)).fetchone()
        assert placed is not None and placed[0] == 1


def test_opposite_lock_orders_do_not_deadlock(core_dsn):
    shop_id, (a, b), slot, buyers = _setup(core_dsn, [100, 100], 20)

    def buy(buyer: UUID, items: list[tuple[UUID, int]]) -> Callable[..., object]:
        return lambda conn: orders.place_order(conn, buyer, OrderRequest.of(
            shop_id, items, "pickup", pickup_slot_id=slot))

    jobs = [buy(buyer, [(a, 1), (b, 1)] if i % 2 else [(b, 1), (a, 1)])
            for i, buyer in enumerate(buyers)]
    assert Counter(_race(core_dsn, jobs)) == {"ok": 20}
    with psycopg.connect(core_dsn) as conn:
        assert (stock_of(conn, a), stock_of(conn, b)) == (80, 80)


def test_cancel_racing_the_expiry_sweep_releases_once(core_dsn):
    shop_id, (variant,), slot, (buyer,) = _setup(core_dsn, [5], 1)
    with transaction(core_dsn) as conn:
        order = orders.place_order(conn, buyer, OrderRequest.of(
            shop_id, [(variant, 2)], "pickup", pickup_slot_id=slot)).order
    later = order.reserved_until
    jobs: list[Callable[[psycopg.Connection[Any]], object]] = []
    for i in range(10):
        if i % 2:
            jobs.append(lambda conn: orders.cancel_order(conn, order.id, now=later))
        else:
            jobs.append(lambda conn: orders.expire_reservations(conn, later))
    outcomes = _race(core_dsn, jobs)
    assert set(outcomes) <= {"ok", "INVALID_ORDER_STATE"}
    with psycopg.connect(core_dsn) as conn:
        assert stock_of(conn, variant) == 5
        assert orders.get_order(conn, order.id).status in ("cancelled", "expired")
