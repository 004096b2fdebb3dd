"""Orders through the service: reservation, idempotency, slots, expiry, payment, pickup,
delivery codes, refunds and the status machine. Time is controlled with `now=`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.bundles import BundleItem
from marketplace_core.db import Connection
from marketplace_core.errors import DomainError, ErrorCode
from marketplace_core.orders import pickup, reservations
from marketplace_core.orders import service as orders
from marketplace_core.orders.service import OrderRequest
from marketplace_core.pos import service as pos
from schemas.topics import CORE_ORDERS, CORE_VARIANTS
from tests.core.test_orders_support import (
    events,
    make_buyer,
    make_online_shop,
    make_variant,
    stock_of,
)

T0 = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
HOLD = timedelta(minutes=30)  # settings.policy.reservation_hold_minutes (default)


def _slot(conn: Connection, shop_id: UUID, *, capacity: int = 5, hours: int = 2) -> UUID:
    return pickup.create_slot(conn, shop_id, starts_at=T0 + timedelta(hours=hours),
                              ends_at=T0 + timedelta(hours=hours + 1), capacity=capacity,
                              now=T0).id


def _code(excinfo: pytest.ExceptionInfo[DomainError]) -> str:
    return excinfo.value.code


@pytest.fixture
def shop(conn):
    merchant_id, shop_id, _device = make_online_shop(conn, T0)
    return merchant_id, shop_id


def _pickup_order(conn, shop_id, items, *, buyer=None, slot=None, key=None, now=T0):
    request = OrderRequest.of(shop_id, items, "pickup",
                              pickup_slot_id=slot or _slot(conn, shop_id))
    return orders.place_order(conn, buyer or make_buyer(conn), request,
                              idempotency_key=key, now=now).order


def test_place_order_reserves_stock_at_database_prices(conn, shop):
    merchant_id, shop_id = shop
    cheap = make_variant(conn, shop_id, price=Decimal("0.01"), stock=5)
    dear = make_variant(conn, shop_id, price=Decimal("1999.99"), stock=3)
    buyer = make_buyer(conn)
    slot = _slot(conn, shop_id)
    placed = orders.place_order(
        conn, buyer, OrderRequest.of(shop_id, [(dear, 2), (cheap, 1), (dear, 1)], "pickup",
                                     pickup_slot_id=slot), now=T0)
    order = placed.order
    assert placed.created
    assert order.status == "pending_payment" and order.merchant_id == merchant_id
    assert order.total == Decimal("5999.98")  # 3 x 1999.99 + 0.01, exact
    assert {(i.variant_id, i.qty, i.unit_price, i.line_total) for i in order.items} == {
        (dear, 3, Decimal("1999.99"), Decimal("5999.97")),
        (cheap, 1, Decimal("0.01"), Decimal("0.01"))}
    assert order.reserved_until == T0 + HOLD
    assert (order.pickup_slot_id, order.pickup_starts_at) == (slot, T0 + timedelta(hours=2))
    assert stock_of(conn, dear) == 0 and stock_of(conn, cheap) == 4
    assert reservations.held_units(conn, dear) == 3
    assert pickup.get_slot(conn, slot).booked == 1  # type: ignore[union-attr]

    created = events(conn, CORE_ORDERS, order.id)
    assert [e["event_type"] for e in created] == ["order.created"]
    assert created[0]["total"] == Decimal("5999.98")
    assert sorted(i["qty"] for i in created[0]["items"]) == [1, 3]
    moved = events(conn, CORE_VARIANTS, dear)[-1]
    assert (moved["stock_qty"], moved["stock_delta"], moved["reason"]) == (0, -3, "reservation")


def test_order_is_refused_when_the_shop_is_not_eligible(conn, shop):
    _, shop_id = shop
    variant = make_variant(conn, shop_id)
    slot = _slot(conn, shop_id)
    with pytest.raises(DomainError) as stale:  # last heartbeat 11 minutes ago
        _pickup_order(conn, shop_id, [(variant, 1)], slot=slot,
                      now=T0 + timedelta(minutes=11))
    assert _code(stale) == ErrorCode.BUY_NOT_ELIGIBLE
    assert stale.value.details == {  # type: ignore[attr-defined]
        "mode": "manual_contact", "reasons": ["POS_INACTIVE"]}
    assert stock_of(conn, variant) == 10


def test_item_errors_leave_nothing_behind(conn, shop):
    _, shop_id = shop
    a = make_variant(conn, shop_id, stock=2)
    b = make_variant(conn, shop_id, stock=1)
    ok = make_variant(conn, shop_id, stock=5)
    _, other_shop, _ = make_online_shop(conn, T0)
    foreign = make_variant(conn, other_shop)
    slot = _slot(conn, shop_id, capacity=1)

    with pytest.raises(DomainError) as short:
        _pickup_order(conn, shop_id, [(ok, 1), (a, 3), (b, 2)], slot=slot)
    assert _code(short) == ErrorCode.OUT_OF_STOCK
    assert sorted(short.value.details, key=lambda d: d["available"]) == [  # type: ignore[attr-defined]
        {"variant_id": str(b), "requested": 2, "available": 1},
        {"variant_id": str(a), "requested": 3, "available": 2}]
    with pytest.raises(DomainError) as unknown:
        _pickup_order(conn, shop_id, [(ok, 1), (uuid4(), 1)], slot=slot)
    assert _code(unknown) == ErrorCode.VARIANT_NOT_FOUND
    with pytest.raises(DomainError) as mixed:
        _pickup_order(conn, shop_id, [(ok, 1), (foreign, 1)], slot=slot)
    assert _code(mixed) == ErrorCode.VARIANT_NOT_IN_SHOP
    assert (stock_of(conn, a), stock_of(conn, b), stock_of(conn, ok)) == (2, 1, 5)
    assert pickup.get_slot(conn, slot).booked == 0  # type: ignore[union-attr]

    cases: list[tuple[list[tuple[UUID, int]], str, dict[str, Any], str]] = [
        ([], "pickup", {"pickup_slot_id": slot}, ErrorCode.INVALID_ARGUMENT),
        ([(ok, 1)], "pickup", {}, ErrorCode.INVALID_FULFILMENT),
        ([(ok, 1)], "delivery", {"delivery_address": "  "}, ErrorCode.INVALID_FULFILMENT),
        ([(ok, 1)], "drone", {"delivery_address": "x"}, ErrorCode.INVALID_FULFILMENT),
        ([(ok, 10**6)], "pickup", {"pickup_slot_id": slot}, ErrorCode.INVALID_QUANTITY),
    ]
    for items, fulfilment, kwargs, code in cases:
        with pytest.raises(DomainError) as bad:
            orders.place_order(conn, make_buyer(conn),
                               OrderRequest.of(shop_id, items, fulfilment, **kwargs), now=T0)
        assert _code(bad) == code
    with pytest.raises(DomainError) as zero:
        OrderRequest.of(shop_id, [(ok, 0)], "pickup", pickup_slot_id=slot)
    assert _code(zero) == ErrorCode.INVALID_QUANTITY


def test_idempotency_key(conn, shop):
    _, shop_id = shop
    a = make_variant(conn, shop_id, stock=10)
    b = make_variant(conn, shop_id, stock=10)
    buyer = make_buyer(conn)
    slot = _slot(conn, shop_id)
    first = orders.place_order(
        conn, buyer, OrderRequest.of(shop_id, [(a, 1), (b, 2)], "pickup", pickup_slot_id=slot),
        idempotency_key="k-1", now=T0)
    again = orders.place_order(  # same meaning, written differently
        conn, buyer, OrderRequest.of(shop_id, [(b, 1), (a, 1), (b, 1)], "pickup",
                                     pickup_slot_id=slot),
        idempotency_key="k-1", now=T0 + timedelta(minutes=1))
    assert first.created and not again.created and again.order.id == first.order.id
    assert (stock_of(conn, a), stock_of(conn, b)) == (9, 8)
    with pytest.raises(DomainError) as reused:
        orders.place_order(conn, buyer, OrderRequest.of(shop_id, [(a, 2)], "pickup",
                                                        pickup_slot_id=slot),
                           idempotency_key="k-1", now=T0)
    assert _code(reused) == ErrorCode.IDEMPOTENCY_KEY_REUSED
    # keys are per buyer
    other = orders.place_order(conn, make_buyer(conn), OrderRequest.of(
        shop_id, [(a, 1)], "pickup", pickup_slot_id=slot), idempotency_key="k-1", now=T0)
    assert other.created


def test_slot_capacity_and_validity(conn, shop):
    _, shop_id = shop
    variant = make_variant(conn, shop_id, stock=10)
    slot = _slot(conn, shop_id, capacity=1)
    first = _pickup_order(conn, shop_id, [(variant, 1)], slot=slot)
    with pytest.raises(DomainError) as full:
        _pickup_order(conn, shop_id, [(variant, 1)], slot=slot)
    assert _code(full) == ErrorCode.SLOT_FULL
    assert stock_of(conn, variant) == 9  # the refused order took nothing
    orders.cancel_order(conn, first.id, now=T0)
    _pickup_order(conn, shop_id, [(variant, 1)], slot=slot)  # the place came back

    with pytest.raises(DomainError) as over:
        _pickup_order(conn, shop_id, [(variant, 1)], slot=slot, now=T0 + timedelta(hours=4))
    assert _code(over) in (ErrorCode.SLOT_CLOSED, ErrorCode.BUY_NOT_ELIGIBLE)
    pos.record_heartbeat(conn, pos.list_devices_for_shop(conn, shop_id)[0].id,
                         now=T0 + timedelta(hours=4))
    with pytest.raises(DomainError) as closed:
        _pickup_order(conn, shop_id, [(variant, 1)], slot=slot, now=T0 + timedelta(hours=4))
    assert _code(closed) == ErrorCode.SLOT_CLOSED
    _, other_shop, _ = make_online_shop(conn, T0)
    with pytest.raises(DomainError) as foreign:
        _pickup_order(conn, shop_id, [(variant, 1)], slot=_slot(conn, other_shop))
    assert _code(foreign) == ErrorCode.SLOT_NOT_FOUND

    for starts, ends, capacity in [(2, 1, 1), (1, 30, 1), (-3, -2, 1), (1, 2, 0)]:
        with pytest.raises(DomainError) as bad:
            pickup.create_slot(conn, shop_id, starts_at=T0 + timedelta(hours=starts),
                               ends_at=T0 + timedelta(hours=ends), capacity=capacity, now=T0)
        assert _code(bad) == ErrorCode.INVALID_SLOT
    assert [s.id for s in pickup.list_slots(conn, shop_id, now=T0)] == [slot]


def test_expiry_releases_stock_exactly_once(conn, shop):
    _, shop_id = shop
    variant = make_variant(conn, shop_id, stock=4)
    slot = _slot(conn, shop_id)
    order = _pickup_order(conn, shop_id, [(variant, 3)], slot=slot)
    assert stock_of(conn, variant) == 1

    # (the session database also holds other tests' committed orders: counts are >=)
    orders.expire_reservations(conn, T0 + HOLD - timedelta(seconds=1))
    assert orders.get_order(conn, order.id).status == "pending_payment"
    assert orders.expire_reservations(conn, T0 + HOLD) >= 1
    assert orders.expire_reservations(conn, T0 + HOLD + timedelta(minutes=5)) == 0
    assert stock_of(conn, variant) == 4 and reservations.held_units(conn, variant) == 0
    assert pickup.get_slot(conn, slot).booked == 0  # type: ignore[union-attr]
    expired = orders.get_order(conn, order.id)
    assert expired.status == "expired" and expired.expired_at == T0 + HOLD

    for late in (lambda: orders.cancel_order(conn, order.id, now=T0 + HOLD),
                 lambda: orders.mark_refunded(conn, order.id, now=T0 + HOLD)):
        with pytest.raises(DomainError) as invalid:
            late()
        assert _code(invalid) == ErrorCode.INVALID_ORDER_STATE
    with pytest.raises(DomainError) as unpayable:
        orders.mark_paid(conn, order.id, payment_id=uuid4(), now=T0 + HOLD)
    assert _code(unpayable) == ErrorCode.ORDER_NOT_PAYABLE
    assert stock_of(conn, variant) == 4

    reasons = [(e["reason"], e["stock_delta"]) for e in events(conn, CORE_VARIANTS, variant)
               if e["event_type"] == "variant.stock_changed"]
    assert reasons == [("reservation", -3), ("reservation_expired", 3)]
    assert [e["event_type"] for e in events(conn, CORE_ORDERS, order.id)] == [
        "order.created", "order.expired"]


def test_payment_pickup_overdue_and_completion(conn, shop):
    _, shop_id = shop
    variant = make_variant(conn, shop_id, stock=2)
    order = _pickup_order(conn, shop_id, [(variant, 2)])
    payment = uuid4()
    paid = orders.mark_paid(conn, order.id, payment_id=payment, now=T0 + timedelta(minutes=5))
    assert paid.status == "paid" and paid.payment_id == payment and paid.delivery_code is None
    assert paid.reserved_until == T0 + timedelta(minutes=5, hours=24)
    assert orders.mark_paid(conn, order.id, payment_id=payment, now=T0 + HOLD) == paid
    with pytest.raises(DomainError) as twice:
        orders.mark_paid(conn, order.id, payment_id=uuid4())
    assert _code(twice) == ErrorCode.ORDER_ALREADY_PAID
    with pytest.raises(DomainError) as cancel_paid:
        orders.cancel_order(conn, order.id, now=T0)
    assert _code(cancel_paid) == ErrorCode.INVALID_ORDER_STATE

    # a paid order is not released by the reservation sweep: it becomes pickup_overdue
    orders.expire_reservations(conn, T0 + timedelta(hours=2))
    assert orders.get_order(conn, order.id).status == "paid"
    assert orders.expire_reservations(conn, T0 + timedelta(hours=25)) >= 1
    overdue = orders.get_order(conn, order.id)
    assert overdue.status == "pickup_overdue" and stock_of(conn, variant) == 0
    assert orders.expire_reservations(conn, T0 + timedelta(hours=26)) == 0

    done = orders.mark_picked_up(conn, order.id, now=T0 + timedelta(hours=27))
    assert done.status == "completed" and done.completed_at == T0 + timedelta(hours=27)
    assert reservations.held_units(conn, variant) == 0 and stock_of(conn, variant) == 0
    with pytest.raises(DomainError) as again:
        orders.mark_picked_up(conn, order.id)
    assert _code(again) == ErrorCode.INVALID_ORDER_STATE
    # a refund after completion: the goods are with the buyer, stock stays as it is
    refunded = orders.mark_refunded(conn, order.id, now=T0 + timedelta(hours=30))
    assert refunded.status == "refunded" and stock_of(conn, variant) == 0
    assert orders.mark_paid(conn, order.id, payment_id=payment) == refunded  # replayed webhook
    assert [e["event_type"] for e in events(conn, CORE_ORDERS, order.id)] == [
        "order.created", "order.paid", "order.pickup_overdue", "order.completed",
        "order.refunded"]


def test_refund_of_a_paid_order_returns_stock_once(conn, shop):
    _, shop_id = shop
    variant = make_variant(conn, shop_id, stock=3)
    slot = _slot(conn, shop_id, capacity=1)
    order = _pickup_order(conn, shop_id, [(variant, 3)], slot=slot)
    with pytest.raises(DomainError) as unpaid:
        orders.mark_refunded(conn, order.id, now=T0)
    assert _code(unpaid) == ErrorCode.INVALID_ORDER_STATE
    orders.mark_paid(conn, order.id, payment_id=uuid4(), now=T0)
    refunded = orders.mark_refunded(conn, order.id, now=T0 + timedelta(hours=1))
    assert refunded.status == "refunded" and refunded.refunded_at == T0 + timedelta(hours=1)
    assert orders.mark_refunded(conn, order.id) == refunded  # idempotent
    assert stock_of(conn, variant) == 3
    assert pickup.get_slot(conn, slot).booked == 0  # type: ignore[union-attr]
    assert [e["reason"] for e in events(conn, CORE_VARIANTS, variant)
            if e["event_type"] == "variant.stock_changed"] == ["reservation", "refund"]


def test_delivery_code_attempts_and_lock(conn, shop):
    _, shop_id = shop
    variant = make_variant(conn, shop_id, stock=5)
    order = orders.place_order(conn, make_buyer(conn), OrderRequest.of(
        shop_id, [(variant, 1)], "delivery", delivery_address=" Бишкек, ул. Киевская 1 "),
        now=T0).order
    assert order.delivery_address == "Бишкек, ул. Киевская 1" and order.pickup_slot_id is None
    with pytest.raises(DomainError) as unpaid:
        orders.confirm_delivery(conn, order.id, "000000", now=T0)
    assert _code(unpaid) == ErrorCode.INVALID_ORDER_STATE
    paid = orders.mark_paid(conn, order.id, payment_id=uuid4(), now=T0)
    code = paid.delivery_code
    assert code is not None and len(code) == 6 and code.isdigit()
    # delivery orders are never marked pickup_overdue
    orders.expire_reservations(conn, T0 + timedelta(days=3))
    assert orders.get_order(conn, order.id).status == "paid"
    stored = conn.execute("select delivery_code_hash from orders where id = %s",
                          (order.id,)).fetchone()
    assert stored is not None and code not in stored[0]
    with pytest.raises(DomainError) as wrong_kind:
        orders.mark_picked_up(conn, order.id)
    assert _code(wrong_kind) == ErrorCode.INVALID_FULFILMENT

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    left = []
    for guess in [wrong, wrong, "abc", wrong, wrong]:
        check = orders.check_delivery_code(conn, order.id, guess, now=T0)
        assert check.error is not None and check.error.code == ErrorCode.INVALID_DELIVERY_CODE
        left.append(check.error.details["attempts_left"])  # type: ignore[attr-defined]
    assert left == [4, 3, 2, 1, 0]
    locked = orders.check_delivery_code(conn, order.id, code, now=T0)  # even the right one
    assert locked.error is not None and locked.error.code == ErrorCode.DELIVERY_CODE_LOCKED
    assert locked.order.status == "paid" and locked.order.delivery_code_locked

    fresh = orders.issue_delivery_code(conn, order.id, now=T0)
    assert fresh.delivery_code and not fresh.delivery_code_locked
    done = orders.confirm_delivery(conn, order.id, fresh.delivery_code,
                                   now=T0 + timedelta(hours=3))
    assert done.status == "completed" and stock_of(conn, variant) == 4
    with pytest.raises(DomainError) as finished:
        orders.confirm_delivery(conn, order.id, fresh.delivery_code)
    assert _code(finished) == ErrorCode.INVALID_ORDER_STATE


def test_bundle_order_takes_component_stock(conn, shop):
    _, shop_id = shop
    cup = make_variant(conn, shop_id, price=Decimal("150.00"), stock=5)
    tea = make_variant(conn, shop_id, price=Decimal("300.00"), stock=10)
    bundle = catalog.create_product(conn, shop_id, "Набор чайный",
                                    bundle_items=[BundleItem(cup, 2), BundleItem(tea, 1)])
    bundle_variant = catalog.create_variant(conn, bundle.id, "SET-TEA-1", Decimal("650.00")).id
    slot = _slot(conn, shop_id)
    order = _pickup_order(conn, shop_id, [(bundle_variant, 2), (cup, 1)], slot=slot)
    assert order.total == Decimal("1450.00")
    assert (stock_of(conn, cup), stock_of(conn, tea)) == (0, 8)
    with pytest.raises(DomainError) as short:
        _pickup_order(conn, shop_id, [(bundle_variant, 1)], slot=slot)
    assert _code(short) == ErrorCode.OUT_OF_STOCK
    orders.cancel_order(conn, order.id, now=T0)
    assert (stock_of(conn, cup), stock_of(conn, tea)) == (5, 10)


def test_reads(conn, shop):
    _, shop_id = shop
    variant = make_variant(conn, shop_id)
    buyer = make_buyer(conn)
    slot = _slot(conn, shop_id)
    first = _pickup_order(conn, shop_id, [(variant, 1)], buyer=buyer, slot=slot)
    second = _pickup_order(conn, shop_id, [(variant, 1)], buyer=buyer, slot=slot,
                           now=T0 + timedelta(minutes=1))
    assert [o.id for o in orders.list_orders_for_buyer(conn, buyer)] == [second.id, first.id]
    orders.cancel_order(conn, first.id, now=T0)
    assert [o.id for o in orders.list_orders_for_buyer(conn, buyer, status="cancelled")] == [
        first.id]
    assert {o.id for o in orders.list_orders_for_shop(conn, shop_id)} >= {first.id, second.id}
    with pytest.raises(DomainError) as missing:
        orders.get_order(conn, uuid4())
    assert _code(missing) == ErrorCode.ORDER_NOT_FOUND


def test_delivery_codes_are_stored_keyed_with_the_pepper(conn, shop, monkeypatch):
    """The stored hash needs the server's pepper: with the table alone the million codes
    cannot be tried offline. Codes stored before the pepper still check."""
    import hashlib

    from infra.settings import get_settings
    from marketplace_core.orders import delivery_codes

    _, shop_id = shop
    variant = make_variant(conn, shop_id, stock=5)
    order = orders.place_order(conn, make_buyer(conn), OrderRequest.of(
        shop_id, [(variant, 1)], "delivery", delivery_address="Бишкек"), now=T0).order
    code = orders.mark_paid(conn, order.id, payment_id=uuid4(), now=T0).delivery_code
    assert code is not None
    salt, stored = conn.execute("select delivery_code_salt, delivery_code_hash from orders"
                                " where id = %s", (order.id,)).fetchone()
    assert stored.startswith("h1:") and stored != delivery_codes._unkeyed_hash(code, salt)
    assert hashlib.sha256(f"{salt}:{code}".encode()).hexdigest() not in stored
    # another pepper: the right code no longer matches the stored value
    monkeypatch.setattr(get_settings(), "code_pepper", "another-pepper-" + "x" * 30)
    assert not delivery_codes.matches(code, salt, stored)
    monkeypatch.undo()
    assert delivery_codes.matches(code, salt, stored)
    # an order whose code was stored unkeyed (before the pepper) still completes
    conn.execute("update orders set delivery_code_hash = %s where id = %s",
                 (delivery_codes._unkeyed_hash(code, salt), order.id))
    assert orders.confirm_delivery(conn, order.id, code, now=T0).status == "completed"


def test_the_placed_order_is_what_the_database_holds(conn, shop):
    """place_order builds its answer instead of reading the order back: it must be
    exactly the stored order (pickup slot times, items in their stored order, money)."""
    _, shop_id = shop
    a = make_variant(conn, shop_id, price=Decimal("12.30"), stock=9)
    b = make_variant(conn, shop_id, price=Decimal("0.07"), stock=9)
    placed = _pickup_order(conn, shop_id, [(b, 3), (a, 2)])
    assert placed == orders.get_order(conn, placed.id)
    delivery = orders.place_order(
        conn, make_buyer(conn), OrderRequest.of(shop_id, [(a, 1)], "delivery",
                                                delivery_address="ул. Токтогула, 1"),
        now=T0).order
    assert delivery == orders.get_order(conn, delivery.id)
