"""What terminals tell a shop's managers (notify.pos, through the outbox, in the
transaction of the change): a terminal silent for longer than the heartbeat timeout
(10 minutes: `pos_offline`, high priority, the shop's Buy button is gone), back online
(`pos_online`), and a till sale of goods the platform believed sold out (the stock was
clamped at 0: `pos_stock_discrepancy`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.db import Connection
from marketplace_core.notifications.events import notify


def _cta(shop_id: UUID) -> str:
    return f"{get_settings().notify_public_url}/shops/{shop_id}/pos"


def device_offline(conn: Connection, device_id: str, shop_id: UUID,
                   last_heartbeat_at: datetime | None, at: datetime) -> None:
    notify(conn, "pos_offline", entity_type="pos_device", entity_id=device_id,
           shop_id=shop_id, to_shop=True,
           data={"deviceId": device_id, "ctaUrl": _cta(shop_id),
                 "minutes": str(get_settings().policy.pos_heartbeat_timeout_minutes),
                 "ts": (last_heartbeat_at or at).isoformat()})


def device_online(conn: Connection, device_id: str, shop_id: UUID, at: datetime) -> None:
    notify(conn, "pos_online", entity_type="pos_device", entity_id=device_id,
           shop_id=shop_id, to_shop=True,
           data={"deviceId": device_id, "ctaUrl": _cta(shop_id), "ts": at.isoformat()})


def stock_discrepancy(conn: Connection, device_id: str, shop_id: UUID, receipt: str,
                      short_units: int, at: datetime) -> None:
    notify(conn, "pos_stock_discrepancy", entity_type="pos_device", entity_id=device_id,
           shop_id=shop_id, to_shop=True,
           data={"deviceId": device_id, "ctaUrl": _cta(shop_id), "ts": at.isoformat(),
                 "details": f"receipt {receipt}: {short_units} unit(s) sold beyond the "
                            "platform's stock"})
