"""Orders: placing them (with stock reservation), and their life cycle.

Status machine (anything else is INVALID_ORDER_STATE):

    pending_payment -> paid -> completed          (picked up, or delivered with the code)
    pending_payment -> cancelled                  (buyer, before payment: stock released)
    pending_payment -> expired                    (sweep: hold ran out, stock released)
    paid -> pickup_overdue -> completed | refunded
    paid | pickup_overdue -> refunded             (stock returned: the goods never left)
    completed -> refunded                         (stock NOT returned: the goods are with
                                                   the buyer; putting a returned item back
                                                   on the shelf is a seller stock change)

A paid order that is not picked up in time is NOT released automatically: the buyer's
money was taken, so the sweep only marks it `pickup_overdue` (the stock stays held) and a
person decides — hand it over late or refund it.

Every function takes the caller's connection and works in one transaction block (a
savepoint inside the caller's transaction); the order row is locked (FOR UPDATE) before
any change, so concurrent transitions of one order serialise. Every status change emits
`order.<status>` on core.orders (creation emits `order.created`); every stock move emits
`variant.stock_changed` (see marketplace_core.inventory). `now` parameters let tests and
sweeps control time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from infra.settings import get_settings
from marketplace_core import outbox
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from marketplace_core.inventory import service as stock
from marketplace_core.orders import delivery_codes, eligibility, pickup, reservations
from marketplace_core.orders import notifications as order_notifications
from marketplace_core.outbox import emit
from schemas.topics import CORE_ORDERS

PENDING_PAYMENT = "pending_payment"
PAID = "paid"
PICKUP_OVERDUE = "pickup_overdue"
COMPLETED = "completed"
CANCELLED = "cancelled"
EXPIRED = "expired"
REFUNDED = "refunded"
STATUSES = (PENDING_PAYMENT, PAID, PICKUP_OVERDUE, COMPLETED, CANCELLED, EXPIRED, REFUNDED)

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({PAID, CANCELLED, EXPIRED}),
    PAID: frozenset({COMPLETED, PICKUP_OVERDUE, REFUNDED}),
    PICKUP_OVERDUE: frozenset({COMPLETED, REFUNDED}),
    COMPLETED: frozenset({REFUNDED}),
    CANCELLED: frozenset(),
    EXPIRED: frozenset(),
    REFUNDED: frozenset(),
}

FULFILMENTS = ("pickup", "delivery")
CURRENCY = "KGS"  # orders.currency (the schema allows no other)
MAX_ITEMS = 100
MAX_ADDRESS_LENGTH = 500
MAX_TOTAL = Decimal("9999999999.99")  # numeric(12,2)
SWEEP_BATCH = 500


# --- records ----------------------------------------------------------------------------


class _Conflict(ConflictError):
    def __init__(self, code: str, message: str, details: Any) -> None:
        super().__init__(code, message)
        self.details = details


class _Invalid(ValidationError):
    def __init__(self, code: str, message: str, details: Any) -> None:
        super().__init__(code, message)
        self.details = details


@dataclass(frozen=True)
class OrderItem:
    variant_id: UUID
    product_id: UUID
    sku: str
    qty: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class Order:
    id: UUID
    buyer_id: UUID
    shop_id: UUID
    merchant_id: UUID
    status: str
    total: Decimal
    currency: str
    fulfilment: str
    pickup_slot_id: UUID | None
    pickup_starts_at: datetime | None
    pickup_ends_at: datetime | None
    delivery_address: str | None
    payment_id: UUID | None
    reserved_until: datetime
    created_at: datetime
    paid_at: datetime | None
    pickup_overdue_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    expired_at: datetime | None
    refunded_at: datetime | None
    updated_at: datetime
    delivery_code_attempts: int
    items: tuple[OrderItem, ...] = ()
    # The plain delivery code, only on the Order returned by the call that generated it
    # (mark_paid, issue_delivery_code); the database keeps a hash.
    delivery_code: str | None = None

    @property
    def delivery_code_locked(self) -> bool:
        return self.delivery_code_attempts >= delivery_codes.MAX_ATTEMPTS


@dataclass(frozen=True)
class OrderRequest:
    """What a buyer asks for. `items` maps variant id -> qty (repeated variants merged)."""

    shop_id: UUID
    items: dict[UUID, int]
    fulfilment: str
    pickup_slot_id: UUID | None = None
    delivery_address: str | None = None

    @classmethod
    def of(
        cls,
        shop_id: UUID,
        items: list[tuple[UUID, int]],
        fulfilment: str,
        *,
        pickup_slot_id: UUID | None = None,
        delivery_address: str | None = None,
    ) -> OrderRequest:
        """Build from (variant_id, qty) pairs, adding up repeated variants."""
        merged: dict[UUID, int] = {}
        for variant_id, qty in items:
            if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
                raise ValidationError(ErrorCode.INVALID_QUANTITY, "qty must be an integer >= 1")
            merged[variant_id] = merged.get(variant_id, 0) + qty
        address = delivery_address.strip() if isinstance(delivery_address, str) else None
        return cls(shop_id, merged, fulfilment, pickup_slot_id, address or None)

    def fingerprint(self) -> str:
        """A hash of the request's meaning (same order however the JSON was written)."""
        canonical = {
            "shop_id": str(self.shop_id),
            "items": sorted([str(v), q] for v, q in self.items.items()),
            "fulfilment": self.fulfilment,
            "pickup_slot_id": str(self.pickup_slot_id) if self.pickup_slot_id else None,
            "delivery_address": self.delivery_address,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    created: bool  # False: an earlier request with the same idempotency key made it


@dataclass(frozen=True)
class DeliveryCheck:
    """The outcome of a delivery-code attempt. A wrong code is recorded (the attempt counts)
    and reported in `error` instead of raised, so the caller can commit the attempt first."""

    order: Order
    error: DomainError | None


# --- reading --------------------------------------------------------------------------

_ORDER_SQL = """
select o.id, o.buyer_id, o.shop_id, o.merchant_id, o.status, o.total, o.currency,
       o.fulfilment, o.pickup_slot_id, ps.starts_at, ps.ends_at, o.delivery_address,
       o.payment_id, o.reserved_until, o.created_at, o.paid_at, o.pickup_overdue_at,
       o.completed_at, o.cancelled_at, o.expired_at, o.refunded_at, o.updated_at,
       o.delivery_code_attempts
  from orders o left join pickup_slots ps on ps.id = o.pickup_slot_id
"""


def find_order(conn: Connection, order_id: UUID) -> Order | None:
    found = _load_many(conn, "where o.id = %s", (order_id,))
    return found[0] if found else None


def get_order(conn: Connection, order_id: UUID) -> Order:
    """The order with its items. Raises ORDER_NOT_FOUND."""
    order = find_order(conn, order_id)
    if order is None:
        raise NotFoundError(ErrorCode.ORDER_NOT_FOUND, f"order {order_id} does not exist")
    return order


def list_orders_for_buyer(
    conn: Connection, buyer_id: UUID, *, status: str | None = None, limit: int = 50,
    offset: int = 0,
) -> list[Order]:
    """A buyer's orders, newest first."""
    return _load_many(
        conn,
        "where o.buyer_id = %s and (%s::text is null or o.status = %s)"
        " order by o.created_at desc, o.id limit %s offset %s",
        (buyer_id, status, status, limit, offset),
    )


def list_orders_for_shop(
    conn: Connection, shop_id: UUID, *, status: str | None = None, limit: int = 50,
    offset: int = 0,
) -> list[Order]:
    """A shop's orders, newest first (what the seller prepares and hands over)."""
    return _load_many(
        conn,
        "where o.shop_id = %s and (%s::text is null or o.status = %s)"
        " order by o.created_at desc, o.id limit %s offset %s",
        (shop_id, status, status, limit, offset),
    )


def _load_many(conn: Connection, where: str, params: tuple[Any, ...]) -> list[Order]:
    rows = conn.execute((_ORDER_SQL + where).encode(), params).fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    items: dict[UUID, list[OrderItem]] = {i: [] for i in ids}
    for row in conn.execute(
        "select order_id, variant_id, product_id, sku, qty, unit_price, line_total"
        " from order_items where order_id = any(%s) order by order_id, sku, variant_id",
        (ids,),
    ).fetchall():
        items[row[0]].append(OrderItem(*row[1:]))
    return [replace(Order(*r), items=tuple(items[r[0]])) for r in rows]


# --- placing an order -----------------------------------------------------------------


def place_order(
    conn: Connection,
    buyer_id: UUID,
    request: OrderRequest,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> PlacedOrder:
    """Place an order: check buy eligibility, reserve the stock (prices from the database),
    book the pickup slot, and hold everything for `reservation_hold_minutes`.

    With an `idempotency_key`, the same key and the same request return the order made the
    first time (`created=False`); the same key with a different request raises
    IDEMPOTENCY_KEY_REUSED. Other errors: INVALID_ARGUMENT / INVALID_QUANTITY /
    INVALID_FULFILMENT (malformed), SHOP_NOT_FOUND, BUY_NOT_ELIGIBLE (details: mode,
    reasons), VARIANT_NOT_FOUND, VARIANT_NOT_IN_SHOP, OUT_OF_STOCK (details per variant),
    SLOT_NOT_FOUND, SLOT_CLOSED, SLOT_FULL. Nothing is written when it fails.
    """
    at = now or datetime.now(UTC)
    _validate(request)
    key = _validate_key(idempotency_key)
    fingerprint = request.fingerprint()
    # Pipeline mode: statements whose results nobody reads (the inserts, savepoints)
    # travel with the next statement that is read instead of costing a round trip each;
    # the order's four events are one INSERT (bench/README.md, "order placement").
    with conn.pipeline(), conn.transaction(), outbox.batched(conn):
        if key is not None:
            # Serialise requests with the same key, then answer from the first one.
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (f"orders.idempotency:{buyer_id}:{key}",))
            earlier = conn.execute(
                "select id, request_hash from orders where buyer_id = %s"
                " and idempotency_key = %s", (buyer_id, key)).fetchone()
            if earlier is not None:
                if earlier[1] != fingerprint:
                    raise ConflictError(
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        "this Idempotency-Key was used for a different order request")
                return PlacedOrder(get_order(conn, earlier[0]), created=False)
        state = eligibility.shop_eligibility(conn, request.shop_id, at)
        if not state.can_buy_online:
            raise _Conflict(
                ErrorCode.BUY_NOT_ELIGIBLE,
                "this shop does not sell online right now: contact it instead",
                {"mode": state.mode, "reasons": list(state.reasons)})
        # Lock order: variant rows (by id) first, then the slot; every other path that
        # touches both (cancel, expiry, refund) follows the same order.
        taken = stock.take_stock(conn, request.shop_id, request.items)
        total = sum((line.line_total for line in taken.lines), Decimal("0.00"))
        if total > MAX_TOTAL:
            raise ValidationError(ErrorCode.INVALID_ARGUMENT, "the order total is too large")
        slot = (pickup.book(conn, request.pickup_slot_id, request.shop_id, now=at)
                if request.pickup_slot_id is not None else None)
        hold_until = at + get_settings().policy.reservation_hold
        # The order as the database will hold it, built here rather than read back.
        order = Order(
            id=uuid4(), buyer_id=buyer_id, shop_id=request.shop_id,
            merchant_id=state.merchant_id, status=PENDING_PAYMENT, total=total,
            currency=CURRENCY, fulfilment=request.fulfilment,
            pickup_slot_id=request.pickup_slot_id,
            pickup_starts_at=slot.starts_at if slot else None,
            pickup_ends_at=slot.ends_at if slot else None,
            delivery_address=request.delivery_address, payment_id=None,
            reserved_until=hold_until, created_at=at, paid_at=None, pickup_overdue_at=None,
            completed_at=None, cancelled_at=None, expired_at=None, refunded_at=None,
            updated_at=at, delivery_code_attempts=0,
            items=tuple(sorted(
                (OrderItem(line.variant_id, line.product_id, line.sku, line.qty,
                           line.unit_price, line.line_total) for line in taken.lines),
                key=lambda i: (i.sku, str(i.variant_id)))),
        )
        conn.execute(
            "insert into orders (id, buyer_id, shop_id, merchant_id, status, total, currency,"
            " fulfilment, pickup_slot_id, delivery_address, idempotency_key, request_hash,"
            " reserved_until, created_at, updated_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (order.id, buyer_id, request.shop_id, state.merchant_id, order.status, total,
             order.currency, request.fulfilment, request.pickup_slot_id,
             request.delivery_address, key, fingerprint if key is not None else None,
             hold_until, at, at),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into order_items (order_id, variant_id, product_id, sku, qty,"
                " unit_price, line_total) values (%s, %s, %s, %s, %s, %s, %s)",
                [(order.id, i.variant_id, i.product_id, i.sku, i.qty, i.unit_price,
                  i.line_total) for i in order.items],
            )
        reservations.hold(conn, order.id, taken, until=hold_until, now=at)
        _emit(conn, order, "order.created")
        order_notifications.order_created(conn, order)
    return PlacedOrder(order, created=True)


def _validate(request: OrderRequest) -> None:
    if not request.items:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "an order needs at least one item")
    if len(request.items) > MAX_ITEMS:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"an order has at most {MAX_ITEMS} different items")
    for qty in request.items.values():
        if isinstance(qty, bool) or not isinstance(qty, int) or \
                not 1 <= qty <= stock.MAX_LINE_QTY:
            raise ValidationError(
                ErrorCode.INVALID_QUANTITY, f"qty must be an integer from 1 to "
                f"{stock.MAX_LINE_QTY}")
    if request.fulfilment == "pickup":
        if request.pickup_slot_id is None or request.delivery_address is not None:
            raise ValidationError(
                ErrorCode.INVALID_FULFILMENT,
                "pickup needs a pickup_slot_id and no delivery address")
    elif request.fulfilment == "delivery":
        if request.delivery_address is None or request.pickup_slot_id is not None:
            raise ValidationError(
                ErrorCode.INVALID_FULFILMENT,
                "delivery needs a delivery address and no pickup slot")
        if len(request.delivery_address) > MAX_ADDRESS_LENGTH:
            raise ValidationError(
                ErrorCode.INVALID_FULFILMENT,
                f"the delivery address has at most {MAX_ADDRESS_LENGTH} characters")
    else:
        raise ValidationError(
            ErrorCode.INVALID_FULFILMENT, f"fulfilment must be one of {FULFILMENTS}")


def _validate_key(key: str | None) -> str | None:
    if key is None:
        return None
    stripped = key.strip()
    if not 1 <= len(stripped) <= 200 or not stripped.isprintable():
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "Idempotency-Key must be 1-200 printable characters")
    return stripped


# --- life cycle -------------------------------------------------------------------------


def mark_paid(
    conn: Connection, order_id: UUID, *, payment_id: UUID, now: datetime | None = None
) -> Order:
    """The payment succeeded: pending_payment -> paid.

    Extends the stock hold to `pickup_hold_hours` (or to the end of the pickup slot if that
    is later) and, for a delivery order, generates the delivery code (returned once in
    `Order.delivery_code`). Idempotent: an order already paid by the same `payment_id`
    is returned unchanged (in whatever status it reached since). An order still
    pending_payment is payable even after its hold ran out, as long as the sweep has not
    expired it (the stock is still held). Raises ORDER_NOT_FOUND, ORDER_NOT_PAYABLE
    (cancelled or expired), ORDER_ALREADY_PAID (paid by a different payment).
    """
    at = now or datetime.now(UTC)
    with conn.transaction():
        order = _lock(conn, order_id)
        if order.status != PENDING_PAYMENT:
            if order.payment_id == payment_id:
                return order
            if order.status in (CANCELLED, EXPIRED):
                raise ConflictError(
                    ErrorCode.ORDER_NOT_PAYABLE, f"order {order_id} is {order.status}")
            raise ConflictError(
                ErrorCode.ORDER_ALREADY_PAID,
                f"order {order_id} was already paid by another payment")
        until = at + get_settings().policy.pickup_hold
        if order.pickup_ends_at is not None and order.pickup_ends_at > until:
            until = order.pickup_ends_at  # a slot booked days ahead is not "overdue" early
        code = delivery_codes.new_code() if order.fulfilment == "delivery" else None
        salt = delivery_codes.new_salt() if code else None
        conn.execute(
            "update orders set status = 'paid', payment_id = %s, paid_at = %s,"
            " reserved_until = %s, delivery_code_salt = %s, delivery_code_hash = %s,"
            " delivery_code_attempts = 0, updated_at = %s where id = %s",
            (payment_id, at, until, salt,
             delivery_codes.hash_code(code, salt) if code and salt else None, at, order_id),
        )
        reservations.extend(conn, order_id, until=until)
        paid = get_order(conn, order_id)
        _emit(conn, paid, "order.paid")
    return replace(paid, delivery_code=code)


def mark_refunded(conn: Connection, order_id: UUID, now: datetime | None = None) -> Order:
    """The payment was refunded in full: paid | pickup_overdue | completed -> refunded.

    For paid and pickup_overdue orders the held stock goes back (reason "refund") and the
    pickup slot place is freed. A completed order's goods are with the buyer, so its stock
    is NOT returned (a seller or POS stock change puts a returned item back on the shelf).
    Idempotent: an already refunded order is returned unchanged. Raises ORDER_NOT_FOUND,
    INVALID_ORDER_STATE (pending_payment, cancelled, expired: nothing was paid).
    """
    at = now or datetime.now(UTC)
    with conn.transaction():
        order = _lock(conn, order_id)
        if order.status == REFUNDED:
            return order
        _require_transition(order, REFUNDED)
        if order.status in (PAID, PICKUP_OVERDUE):
            reservations.release(conn, order_id, reason="refund", now=at)
            if order.pickup_slot_id is not None:
                pickup.unbook(conn, order.pickup_slot_id)
        return _set_status(conn, order, REFUNDED, at)


def cancel_order(conn: Connection, order_id: UUID, *, now: datetime | None = None) -> Order:
    """The buyer gives up before paying: pending_payment -> cancelled, stock released
    (reason "order_cancelled"), slot place freed. Raises ORDER_NOT_FOUND,
    INVALID_ORDER_STATE (after payment an order is refunded, not cancelled)."""
    at = now or datetime.now(UTC)
    with conn.transaction():
        order = _lock(conn, order_id)
        _require_transition(order, CANCELLED)
        _release_unpaid(conn, order, "order_cancelled", at)
        return _set_status(conn, order, CANCELLED, at)


def mark_picked_up(conn: Connection, order_id: UUID, *, now: datetime | None = None) -> Order:
    """The buyer collected a pickup order: paid | pickup_overdue -> completed; the held
    stock is consumed. Raises ORDER_NOT_FOUND, INVALID_FULFILMENT (a delivery order is
    completed with its code), INVALID_ORDER_STATE."""
    at = now or datetime.now(UTC)
    with conn.transaction():
        order = _lock(conn, order_id)
        if order.fulfilment != "pickup":
            raise ConflictError(
                ErrorCode.INVALID_FULFILMENT,
                "a delivery order is completed by confirming its delivery code")
        _require_transition(order, COMPLETED)
        reservations.consume(conn, order_id, now=at)
        return _set_status(conn, order, COMPLETED, at)


def issue_delivery_code(
    conn: Connection, order_id: UUID, *, now: datetime | None = None
) -> Order:
    """A fresh delivery code for a paid delivery order (the buyer asks for it to show the
    courier); the previous code stops working and the attempt counter restarts — the
    buyer chose to hand out a new code. Returned once in `Order.delivery_code`.
    Raises ORDER_NOT_FOUND, INVALID_FULFILMENT, INVALID_ORDER_STATE."""
    at = now or datetime.now(UTC)
    with conn.transaction():
        order = _lock(conn, order_id)
        _require_paid_delivery(order)
        code, salt = delivery_codes.new_code(), delivery_codes.new_salt()
        conn.execute(
            "update orders set delivery_code_salt = %s, delivery_code_hash = %s,"
            " delivery_code_attempts = 0, updated_at = %s where id = %s",
            (salt, delivery_codes.hash_code(code, salt), at, order_id),
        )
        return replace(get_order(conn, order_id), delivery_code=code)


def check_delivery_code(
    conn: Connection, order_id: UUID, code: str, *, now: datetime | None = None
) -> DeliveryCheck:
    """The courier enters the buyer's code: right -> completed (stock consumed); wrong ->
    the attempt is counted and `error` is INVALID_DELIVERY_CODE (details: attempts_left).
    After MAX_ATTEMPTS wrong codes every attempt gets DELIVERY_CODE_LOCKED until the buyer
    issues a new code. The wrong attempt is written, not rolled back: commit it, then raise
    `error` (see `confirm_delivery`). Raises ORDER_NOT_FOUND, INVALID_FULFILMENT,
    INVALID_ORDER_STATE."""
    at = now or datetime.now(UTC)
    with conn.transaction():
        order = _lock(conn, order_id)
        _require_paid_delivery(order)
        if order.delivery_code_locked:
            return DeliveryCheck(order, ConflictError(
                ErrorCode.DELIVERY_CODE_LOCKED,
                "too many wrong codes: the buyer must issue a new delivery code"))
        salt, stored = conn.execute(
            "select delivery_code_salt, delivery_code_hash from orders where id = %s",
            (order_id,)).fetchone() or (None, None)
        if delivery_codes.matches(code, salt, stored):
            reservations.consume(conn, order_id, now=at)
            return DeliveryCheck(_set_status(conn, order, COMPLETED, at), None)
        attempts = order.delivery_code_attempts + 1
        conn.execute(
            "update orders set delivery_code_attempts = %s, updated_at = %s where id = %s",
            (attempts, at, order_id))
        error = _Invalid(
            ErrorCode.INVALID_DELIVERY_CODE, "wrong delivery code",
            {"attempts_left": max(delivery_codes.MAX_ATTEMPTS - attempts, 0)})
        return DeliveryCheck(get_order(conn, order_id), error)


def confirm_delivery(
    conn: Connection, order_id: UUID, code: str, *, now: datetime | None = None
) -> Order:
    """`check_delivery_code` that raises on a wrong code. The counted attempt survives only
    if the caller's transaction commits anyway (the API commits before answering)."""
    result = check_delivery_code(conn, order_id, code, now=now)
    if result.error is not None:
        raise result.error
    return result.order


def expire_reservations(conn: Connection, now: datetime | None = None) -> int:
    """The reservation sweep. Unpaid orders whose hold ran out -> expired (stock released
    with reason "reservation_expired", slot place freed); paid pickup orders past their
    pickup hold -> pickup_overdue (stock stays held: the money was taken, a person
    decides). Orders locked by a concurrent transition are skipped (SKIP LOCKED) and seen
    again next round. Returns how many orders changed."""
    at = now or datetime.now(UTC)
    changed = 0
    with conn.transaction():
        unpaid = conn.execute(
            "select id from orders where status = 'pending_payment' and reserved_until <= %s"
            " order by reserved_until, id limit %s for update skip locked",
            (at, SWEEP_BATCH)).fetchall()
        for (order_id,) in unpaid:
            order = _lock(conn, order_id)
            _release_unpaid(conn, order, "reservation_expired", at)
            _set_status(conn, order, EXPIRED, at)
            changed += 1
        overdue = conn.execute(
            "select id from orders where status = 'paid' and fulfilment = 'pickup'"
            " and reserved_until <= %s order by reserved_until, id limit %s"
            " for update skip locked", (at, SWEEP_BATCH)).fetchall()
        for (order_id,) in overdue:
            _set_status(conn, _lock(conn, order_id), PICKUP_OVERDUE, at)
            changed += 1
    return changed


# --- helpers ----------------------------------------------------------------------------


def _lock(conn: Connection, order_id: UUID) -> Order:
    row = conn.execute("select id from orders where id = %s for update", (order_id,)).fetchone()
    if row is None:
        raise NotFoundError(ErrorCode.ORDER_NOT_FOUND, f"order {order_id} does not exist")
    return get_order(conn, order_id)


def _require_transition(order: Order, target: str) -> None:
    if target not in TRANSITIONS[order.status]:
        raise ConflictError(
            ErrorCode.INVALID_ORDER_STATE,
            f"order {order.id} is {order.status}; it cannot become {target}")


def _require_paid_delivery(order: Order) -> None:
    if order.fulfilment != "delivery":
        raise ConflictError(ErrorCode.INVALID_FULFILMENT, "this is a pickup order")
    if order.status != PAID:
        raise ConflictError(
            ErrorCode.INVALID_ORDER_STATE,
            f"order {order.id} is {order.status}; only a paid order is delivered")


def _release_unpaid(conn: Connection, order: Order, reason: str, at: datetime) -> None:
    reservations.release(conn, order.id, reason=reason, now=at)
    if order.pickup_slot_id is not None:
        pickup.unbook(conn, order.pickup_slot_id)


_STAMP = {PAID: "paid_at", PICKUP_OVERDUE: "pickup_overdue_at", COMPLETED: "completed_at",
          CANCELLED: "cancelled_at", EXPIRED: "expired_at", REFUNDED: "refunded_at"}


def _set_status(conn: Connection, order: Order, target: str, at: datetime) -> Order:
    """Write a checked transition (the row is locked) and emit `order.<target>`."""
    _require_transition(order, target)
    conn.execute(
        f"update orders set status = %s, {_STAMP[target]} = %s, updated_at = %s"
        " where id = %s".encode(),
        (target, at, at, order.id))
    changed = get_order(conn, order.id)
    _emit(conn, changed, f"order.{target}")
    order_notifications.status_changed(conn, changed, at)
    return changed


def _emit(conn: Connection, order: Order, event_type: str) -> None:
    emit(
        conn, CORE_ORDERS,
        entity_type="order", entity_id=order.id, event_type=event_type,
        record={
            "order_id": order.id,
            "buyer_id": order.buyer_id,
            "shop_id": order.shop_id,
            "merchant_id": order.merchant_id,
            "status": order.status,
            "fulfilment": order.fulfilment,
            "pickup_slot_id": order.pickup_slot_id,
            "items": [
                {"variant_id": str(i.variant_id), "product_id": str(i.product_id),
                 "sku": i.sku, "qty": i.qty, "unit_price": i.unit_price,
                 "line_total": i.line_total}
                for i in order.items
            ],
            "total": order.total,
            "currency": order.currency,
            "payment_id": order.payment_id,
            "reserved_until": order.reserved_until,
            "created_at": order.created_at,
            "paid_at": order.paid_at,
            "pickup_overdue_at": order.pickup_overdue_at,
            "completed_at": order.completed_at,
            "cancelled_at": order.cancelled_at,
            "expired_at": order.expired_at,
            "refunded_at": order.refunded_at,
        },
    )
