"""Terminal connectivity: `pos_active` (heard from within the heartbeat timeout) or
`pos_offline` (silent for longer, or never heard), spec §24.3.

Each transition is stored on the device (`pos_devices.connectivity`) and published once on
core.pos_devices (`pos_device.active` / `pos_device.offline`), in the transaction that
made it; the shop's buy eligibility is refreshed in the same transaction, so a shop whose
only terminal goes silent loses its Buy button together with the offline event, and gets
it back with the next heartbeat. Only administratively `active` terminals go pos_active.

Heartbeats make devices active (`mark_heard`); time alone makes them offline, which no
request would notice, so `sweep_offline_devices` runs periodically beside the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from marketplace_core.db import Connection
from marketplace_core.outbox import emit
from marketplace_core.pos.liveness import heartbeat_timeout
from schemas.topics import CORE_POS_DEVICES

ACTIVE = "pos_active"
OFFLINE = "pos_offline"


def _emit(conn: Connection, device_id: str, shop_id: UUID, status: str,
          previous: str | None, last_heartbeat_at: datetime | None, event_type: str) -> None:
    emit(conn, CORE_POS_DEVICES, entity_type="pos_device", entity_id=device_id,
         event_type=event_type,
         record={"device_id": device_id, "shop_id": shop_id, "status": status,
                 "previous_status": previous, "last_heartbeat_at": last_heartbeat_at})


def emit_registered(conn: Connection, device_id: str, shop_id: UUID) -> None:
    """A new terminal starts pos_offline (never heard from)."""
    _emit(conn, device_id, shop_id, OFFLINE, None, None, "pos_device.registered")


def mark_heard(conn: Connection, device_id: str, now: datetime) -> bool:
    """After a heartbeat was stamped: make the device pos_active if it is an active terminal
    whose last heartbeat is fresh at `now` and it was not active yet. Returns whether it
    changed. The caller holds the device row lock (so one transition is announced once)."""
    from marketplace_core.pos import notifications

    # Set only once a device was active: a new terminal's first heartbeat is no "back online".
    before = conn.execute("select connectivity_changed_at from pos_devices where id = %s",
                          (device_id,)).fetchone()
    row = conn.execute(
        "update pos_devices set connectivity = %s, connectivity_changed_at = %s"
        " where id = %s and connectivity <> %s and status = 'active'"
        "   and last_heartbeat_at >= %s"
        " returning shop_id, last_heartbeat_at",
        (ACTIVE, now, device_id, ACTIVE, now - heartbeat_timeout()),
    ).fetchone()
    if row is None:
        return False
    _emit(conn, device_id, row[0], ACTIVE, OFFLINE, row[1], "pos_device.active")
    if before is not None and before[0] is not None:
        notifications.device_online(conn, device_id, row[0], now)
    return True


def sweep_offline_devices(conn: Connection, now: datetime | None = None) -> int:
    """Mark pos_offline every pos_active device silent for longer than the timeout (or no
    longer administratively active), announce it and refresh its shop's eligibility.
    Devices locked by a heartbeat in progress are skipped (SKIP LOCKED): that heartbeat
    decides, and the next round sees the outcome. Returns how many devices went offline."""
    from marketplace_core.orders.eligibility import refresh
    from marketplace_core.pos import notifications

    at = now or datetime.now(UTC)
    rows = conn.execute(
        "select id from pos_devices"
        " where connectivity = %s"
        "   and (status <> 'active' or last_heartbeat_at is null or last_heartbeat_at < %s)"
        " order by id for update skip locked",
        (ACTIVE, at - heartbeat_timeout()),
    ).fetchall()
    shops: set[UUID] = set()
    for (device_id,) in rows:
        changed = conn.execute(
            "update pos_devices set connectivity = %s, connectivity_changed_at = %s"
            " where id = %s returning shop_id, last_heartbeat_at",
            (OFFLINE, at, device_id)).fetchone()
        assert changed is not None
        _emit(conn, device_id, changed[0], OFFLINE, ACTIVE, changed[1], "pos_device.offline")
        notifications.device_offline(conn, device_id, changed[0], changed[1], at)
        shops.add(changed[0])
    for shop_id in sorted(shops):
        refresh(conn, shop_id, at)
    return len(rows)
