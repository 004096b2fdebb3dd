"""The lake's verdicts about a shop, told to its managers once (notify.analytics): the
daily report of a finished local day and the first day of a sharp change of revenue or
visits (seed 000 §25.3). The orchestration's producer reads the marts and calls these; each
notice is claimed in `analytics_notices` in the same transaction as its outbox event, so a
rerun, a run killed halfway or a second scheduler never tells anybody twice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.catalog.service import get_shop
from marketplace_core.db import Connection
from marketplace_core.notifications.events import notify

METRICS = ("revenue", "visits")


def _claim(conn: Connection, kind: str, shop_id: UUID, day: date, metric: str = "") -> bool:
    """True when this notice was not given before (and is now recorded as given)."""
    if get_shop(conn, shop_id) is None:
        return False  # a shop the lake knows and the core does not (erased, or test data)
    row = conn.execute(
        "insert into analytics_notices (kind, shop_id, day, metric, event_id)"
        " values (%s, %s, %s, %s, gen_random_uuid()) on conflict do nothing returning 1",
        (kind, shop_id, day, metric)).fetchone()
    return row is not None


def _cta(shop_id: UUID, day: date) -> str:
    return f"{get_settings().notify_dashboard_url}/?shop={shop_id}&date={day}"


def request_daily_report(conn: Connection, shop_id: UUID, day: date, *, revenue: Decimal,
                         orders: int, receipts: int) -> bool:
    """Tell the shop's managers how `day` (Asia/Bishkek) went; False when already told or
    the shop is unknown."""
    if not _claim(conn, "daily_shop_report", shop_id, day):
        return False
    notify(conn, "daily_shop_report", entity_type="shop_report", entity_id=f"{shop_id}:{day}",
           shop_id=shop_id, to_shop=True,
           data={"reportDate": day.isoformat(), "revenue": f"{revenue:.2f}",
                 "orders": str(orders), "receipts": str(receipts),
                 "ctaUrl": _cta(shop_id, day)})
    return True


def request_anomaly(conn: Connection, shop_id: UUID, day: date, *, metric: str,
                    change_pct: Decimal) -> bool:
    """Tell the shop's managers that `metric` moved sharply on `day`; False when already
    told or the shop is unknown."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    if not _claim(conn, "analytics_anomaly", shop_id, day, metric):
        return False
    notify(conn, "analytics_anomaly", entity_type="shop_report",
           entity_id=f"{shop_id}:{day}:{metric}", shop_id=shop_id, to_shop=True,
           data={"metric": metric, "change": f"{change_pct:+.2f} %", "ts": day.isoformat(),
                 "ctaUrl": _cta(shop_id, day)})
    return True
