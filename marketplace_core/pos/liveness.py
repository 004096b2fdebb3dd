"""Is a shop's till alive? The POS rule the rest of the core asks about (spec §3.4, §24.3).

A shop's POS is live while at least one of its administratively `active` terminals was
heard from at most `settings.policy.pos_heartbeat_timeout_minutes` ago (a heartbeat exactly at
the limit still counts). Buy eligibility (`orders.eligibility`) and terminal connectivity
(`pos.status`) both use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.db import Connection


def heartbeat_timeout() -> timedelta:
    return get_settings().policy.pos_heartbeat_timeout


def is_fresh(last_heartbeat_at: datetime | None, now: datetime) -> bool:
    """A heartbeat heard at most the timeout before `now` (None: never heard)."""
    return last_heartbeat_at is not None and now - last_heartbeat_at <= heartbeat_timeout()


def last_heartbeats(conn: Connection, shop_ids: Sequence[UUID]) -> dict[UUID, datetime]:
    """The freshest heartbeat of each shop's active terminals (shops never heard from by an
    active terminal are absent); the index on pos_devices.shop_id keeps it cheap."""
    rows = conn.execute(
        "select d.shop_id, max(d.last_heartbeat_at) from pos_devices d"
        " where d.shop_id = any(%s) and d.status = 'active'"
        "   and d.last_heartbeat_at is not null"
        " group by d.shop_id",
        (list(shop_ids),),
    ).fetchall()
    return {shop_id: heard for shop_id, heard in rows}


def shops_heard_since(conn: Connection, cutoff: datetime) -> set[UUID]:
    """The shops with an active terminal heard from at `cutoff` or later."""
    rows = conn.execute(
        "select distinct shop_id from pos_devices"
        " where status = 'active' and last_heartbeat_at >= %s",
        (cutoff,),
    ).fetchall()
    return {r[0] for r in rows}
