"""Building notify events and queueing them the way the worker does."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg

from marketplace_core.notifications import log as nlog
from marketplace_core.notifications.catalog import TYPES
from tests.core.notifications.conftest import Clock


def event(user_id: UUID, event_type: str = "order_created", *,
          data: dict[str, str] | None = None, consent: str | None = None,
          event_id: UUID | None = None, shop_id: UUID | None = None,
          clock: Clock | None = None) -> nlog.NotifyEvent:
    ntype = TYPES[event_type]
    values = {"orderId": "A1B2C3D4", "total": "1500.00", "shopName": "Бермет",
              "pickupPoint": "Дордой, ряд 5", "ts": "2031-03-04T04:00:00+00:00"}
    return nlog.NotifyEvent(
        event_id or uuid4(), event_type, clock() if clock else None,  # type: ignore[arg-type]
        "user", user_id, None, shop_id, "order", str(user_id), ntype.priority,
        consent or ntype.consent, values if data is None else data)


def queue(db: psycopg.Connection[Any], ev: nlog.NotifyEvent, clock: Clock) -> list[UUID]:
    with db.transaction():
        return nlog.enqueue(db, ev, clock())


def set_channels(db: psycopg.Connection[Any], user_id: UUID, **enabled: bool) -> None:
    from marketplace_core.notifications import preferences

    with db.transaction():
        for channel, on in enabled.items():
            preferences.save_channel(db, "user", user_id, channel, {"enabled": on})
