"""POS service: the only code that reads or writes `pos_devices`.

A device id is the terminal's printed id, `POS-` and at least four digits (`POS-0001`);
it is the Kafka key of the `pos.sales` topic, so it never changes once registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from psycopg import errors as pg_errors
from psycopg.rows import class_row

from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection, violated_constraint
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError, ValidationError
from marketplace_core.pos import status as connectivity
from platform_common.validated import DEVICE_ID_PATTERN

# 4 to 12 digits, so the next free number (max + 1, credentials.next_device_id) fits a bigint
DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
DEVICE_STATUSES = ("active", "inactive", "retired")

_COLS = "id, shop_id, status, last_heartbeat_at, firmware_version"


@dataclass(frozen=True)
class PosDevice:
    id: str
    shop_id: UUID
    status: str
    last_heartbeat_at: datetime | None
    firmware_version: str | None


def device_id_for(number: int) -> str:
    """The conventional id of terminal number `number`: 1 -> 'POS-0001'."""
    if number < 1:
        raise ValueError("device numbers start at 1")
    return f"POS-{number:04d}"


def register_device(
    conn: Connection,
    device_id: str,
    shop_id: UUID,
    *,
    firmware_version: str | None = None,
    status: str = "active",
) -> PosDevice:
    """Register a terminal in a shop. Raises INVALID_DEVICE_ID, SHOP_NOT_FOUND,
    DUPLICATE_DEVICE (the id is already registered), INVALID_ARGUMENT (status)."""
    if not isinstance(device_id, str) or not DEVICE_ID.match(device_id):
        raise ValidationError(
            ErrorCode.INVALID_DEVICE_ID, f"device id must look like POS-0001, got {device_id!r}")
    if status not in DEVICE_STATUSES:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"status must be one of {DEVICE_STATUSES}")
    if catalog.get_shop(conn, shop_id) is None:
        raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(PosDevice)) as cur:
            row = cur.execute(
                "insert into pos_devices (id, shop_id, status, firmware_version)"
                f" values (%s, %s, %s, %s) returning {_COLS}".encode(),
                (device_id, shop_id, status, firmware_version),
            ).fetchone()
    except pg_errors.UniqueViolation as exc:
        if violated_constraint(exc) == "pos_devices_pkey":
            raise ConflictError(
                ErrorCode.DUPLICATE_DEVICE, f"device {device_id} is already registered"
            ) from exc
        raise
    except pg_errors.ForeignKeyViolation as exc:  # the shop vanished concurrently
        raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist") from exc
    assert row is not None
    connectivity.emit_registered(conn, row.id, row.shop_id)
    return row


def get_device(conn: Connection, device_id: str) -> PosDevice | None:
    with conn.cursor(row_factory=class_row(PosDevice)) as cur:
        return cur.execute(
            f"select {_COLS} from pos_devices where id = %s".encode(), (device_id,)
        ).fetchone()


def list_devices_for_shop(conn: Connection, shop_id: UUID) -> list[PosDevice]:
    with conn.cursor(row_factory=class_row(PosDevice)) as cur:
        return cur.execute(
            f"select {_COLS} from pos_devices where shop_id = %s order by id".encode(),
            (shop_id,),
        ).fetchall()


def record_heartbeat(
    conn: Connection,
    device_id: str,
    *,
    firmware_version: str | None = None,
    now: datetime | None = None,
    heard_at: datetime | None = None,
    reported_status: str | None = None,
) -> PosDevice:
    """A terminal says it is alive: stamp `last_heartbeat_at` with the server's time (the
    device clock is not trusted for eligibility), make the device pos_active if it was not
    (announced on core.pos_devices) and refresh the shop's buy eligibility, so a shop coming
    back online is announced at once.

    `heard_at` is when the platform received the heartbeat if earlier than `now` (a Kafka
    heartbeat read from a backlog proves liveness at its broker time, not at read time).

    Raises DEVICE_NOT_FOUND, DEVICE_RETIRED (a retired terminal no longer counts; an
    `inactive` one is recorded but does not make the shop eligible).
    """
    from marketplace_core.orders.eligibility import refresh  # orders builds on pos

    at = now or datetime.now(UTC)
    with conn.transaction(), conn.cursor(row_factory=class_row(PosDevice)) as cur:
        current = cur.execute(
            f"select {_COLS} from pos_devices where id = %s for update".encode(), (device_id,)
        ).fetchone()
        if current is None:
            raise NotFoundError(ErrorCode.DEVICE_NOT_FOUND, f"device {device_id} is not registered")
        if current.status == "retired":
            raise ConflictError(ErrorCode.DEVICE_RETIRED, f"device {device_id} is retired")
        # Heartbeats may arrive out of order: never move the stamp backwards.
        row = cur.execute(
            "update pos_devices set last_heartbeat_at = greatest(last_heartbeat_at, %s),"
            " firmware_version = coalesce(%s, firmware_version),"
            " reported_status = coalesce(%s, reported_status)"
            f" where id = %s returning {_COLS}".encode(),
            (min(heard_at or at, at), firmware_version, reported_status, device_id),
        ).fetchone()
        assert row is not None
        connectivity.mark_heard(conn, device_id, at)
        refresh(conn, row.shop_id, at)
    return row


@dataclass(frozen=True)
class DeviceOverview:
    """A terminal as its shop's seller sees it: state, link, last heartbeat, ingest counters."""

    id: str
    shop_id: UUID
    status: str
    connectivity: str
    connectivity_changed_at: datetime | None
    last_heartbeat_at: datetime | None
    firmware_version: str | None
    reported_status: str | None
    last_sequence_number: int
    has_credentials: bool
    credentials_issued_at: datetime | None
    applied: int
    duplicates: int
    rejected: int
    heartbeats: int
    oversold_units: int


_OVERVIEW_SQL = """
select d.id, d.shop_id, d.status, d.connectivity, d.connectivity_changed_at,
       d.last_heartbeat_at, d.firmware_version, d.reported_status, d.last_sequence_number,
       d.token_sha256 is not null as has_credentials, d.credentials_issued_at,
       coalesce(c.applied, 0) as applied, coalesce(c.duplicates, 0) as duplicates,
       coalesce(c.rejected, 0) as rejected, coalesce(c.heartbeats, 0) as heartbeats,
       coalesce(c.oversold_units, 0) as oversold_units
  from pos_devices d left join pos_ingest_counters c on c.device_id = d.id
"""


def device_overviews(conn: Connection, shop_id: UUID) -> list[DeviceOverview]:
    """Every terminal of the shop, by id."""
    with conn.cursor(row_factory=class_row(DeviceOverview)) as cur:
        return cur.execute((_OVERVIEW_SQL + " where d.shop_id = %s order by d.id").encode(),
                           (shop_id,)).fetchall()


def device_overview(conn: Connection, device_id: str) -> DeviceOverview | None:
    with conn.cursor(row_factory=class_row(DeviceOverview)) as cur:
        return cur.execute((_OVERVIEW_SQL + " where d.id = %s").encode(), (device_id,)).fetchone()
