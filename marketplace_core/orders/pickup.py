"""Pickup time slots of a shop (spec §3.8): windows with a capacity of orders.

`booked` is moved with one guarded UPDATE (`booked < capacity`), so concurrent orders can
never overbook a slot; cancelled, expired and refunded orders give their place back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from psycopg import errors as pg_errors
from psycopg.rows import class_row

from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError, ValidationError

MAX_SLOT_LENGTH = timedelta(hours=24)
MAX_CAPACITY = 10_000


@dataclass(frozen=True)
class PickupSlot:
    id: UUID
    shop_id: UUID
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    created_at: datetime

    @property
    def remaining(self) -> int:
        return self.capacity - self.booked


_COLS = "id, shop_id, starts_at, ends_at, capacity, booked, created_at"


def create_slot(
    conn: Connection,
    shop_id: UUID,
    *,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    now: datetime | None = None,
) -> PickupSlot:
    """A new pickup window. Raises SHOP_NOT_FOUND, INVALID_SLOT (naive times, end not after
    start, longer than 24 h, already over, capacity outside 1..10000, the same window
    twice)."""
    at = now or datetime.now(UTC)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationError(ErrorCode.INVALID_SLOT, "slot times need a time zone")
    if ends_at <= starts_at:
        raise ValidationError(ErrorCode.INVALID_SLOT, "a slot must end after it starts")
    if ends_at - starts_at > MAX_SLOT_LENGTH:
        raise ValidationError(ErrorCode.INVALID_SLOT, "a slot lasts at most 24 hours")
    if ends_at <= at:
        raise ValidationError(ErrorCode.INVALID_SLOT, "the slot is already over")
    if isinstance(capacity, bool) or not isinstance(capacity, int) \
            or not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationError(
            ErrorCode.INVALID_SLOT, f"capacity must be an integer from 1 to {MAX_CAPACITY}")
    if catalog.get_shop(conn, shop_id) is None:
        raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(PickupSlot)) as cur:
            row = cur.execute(
                "insert into pickup_slots (shop_id, starts_at, ends_at, capacity, created_at)"
                f" values (%s, %s, %s, %s, %s) returning {_COLS}".encode(),
                (shop_id, starts_at, ends_at, capacity, at),
            ).fetchone()
    except pg_errors.UniqueViolation as exc:
        raise ValidationError(
            ErrorCode.INVALID_SLOT, "the shop already has a slot with this window") from exc
    assert row is not None
    return row


def get_slot(conn: Connection, slot_id: UUID) -> PickupSlot | None:
    with conn.cursor(row_factory=class_row(PickupSlot)) as cur:
        return cur.execute(
            f"select {_COLS} from pickup_slots where id = %s".encode(), (slot_id,)
        ).fetchone()


def list_slots(
    conn: Connection, shop_id: UUID, *, now: datetime | None = None,
    until: datetime | None = None, limit: int = 200,
) -> list[PickupSlot]:
    """The shop's slots not over yet at `now` (and starting before `until`), by start."""
    at = now or datetime.now(UTC)
    with conn.cursor(row_factory=class_row(PickupSlot)) as cur:
        return cur.execute(
            f"select {_COLS} from pickup_slots where shop_id = %s and ends_at > %s"
            " and (%s::timestamptz is null or starts_at < %s)"
            " order by starts_at, id limit %s".encode(),
            (shop_id, at, until, until, limit),
        ).fetchall()


def book(conn: Connection, slot_id: UUID, shop_id: UUID, *, now: datetime) -> PickupSlot:
    """Take one place in the slot. Raises SLOT_NOT_FOUND (unknown, or another shop's),
    SLOT_CLOSED (already over), SLOT_FULL."""
    with conn.cursor(row_factory=class_row(PickupSlot)) as cur:
        row = cur.execute(
            "update pickup_slots set booked = booked + 1"
            " where id = %s and shop_id = %s and ends_at > %s and booked < capacity"
            f" returning {_COLS}".encode(),
            (slot_id, shop_id, now),
        ).fetchone()
    if row is not None:
        return row
    slot = get_slot(conn, slot_id)
    if slot is None or slot.shop_id != shop_id:
        raise NotFoundError(
            ErrorCode.SLOT_NOT_FOUND, f"shop {shop_id} has no pickup slot {slot_id}")
    if slot.ends_at <= now:
        raise ConflictError(ErrorCode.SLOT_CLOSED, "this pickup slot is already over")
    raise ConflictError(ErrorCode.SLOT_FULL, "this pickup slot is fully booked")


def unbook(conn: Connection, slot_id: UUID) -> None:
    """Give one place back (the caller guarantees it was booked, once)."""
    conn.execute(
        "update pickup_slots set booked = booked - 1 where id = %s and booked > 0", (slot_id,))
