"""The notify.analytics producer's plan (orchestration.defs.notify.shop_notices): which
reports and anomalies a finished day calls for, from the marts' rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from orchestration.defs.notify.shop_notices import day_end, last_finished_day, plan

A = "00000000-0000-0000-0000-00000000000a"
B = "00000000-0000-0000-0000-00000000000b"
DAY = date(2031, 3, 3)


def insight(shop: str, day: str, metric: str, value: str, signal: str = "",
            change: str | None = None) -> dict[str, object]:
    return {"shop_id": shop, "date": day, "metric": metric, "value": value,
            "signal": signal, "change_pct": change}


def metric(shop: str, day: str, orders: int, receipts: int) -> dict[str, object]:
    return {"shop_id": shop, "date": day, "online_orders": orders, "receipts": receipts}


def test_the_finished_day_is_yesterday_in_bishkek() -> None:
    # 2031-03-03 20:00 UTC is already 02:00 on the 4th in Bishkek (UTC+6)
    assert last_finished_day(datetime(2031, 3, 3, 20, 0, tzinfo=UTC)) == DAY
    assert last_finished_day(datetime(2031, 3, 3, 17, 0, tzinfo=UTC)) == date(2031, 3, 2)
    assert day_end(DAY) == datetime(2031, 3, 3, 18, 0, tzinfo=UTC)


def test_reports_every_active_shop_and_only_the_first_day_of_a_change() -> None:
    insights = [
        insight(A, "2031-03-02", "revenue", "9000.00", "drop", "-55.00"),  # already told
        insight(A, "2031-03-03", "revenue", "4000.00", "drop", "-80.00"),
        insight(A, "2031-03-03", "visits", "300.00", "rise", "150.00"),    # first day
        insight(B, "2031-03-03", "revenue", "120.50"),
        insight(B, "2031-03-03", "visits", "10.00", "rise", None),         # no change figure
    ]
    metrics = [metric(A, "2031-03-02", 1, 1), metric(A, "2031-03-03", 3, 40),
               metric(B, "2031-03-03", 0, 2)]
    reports, anomalies = plan(DAY, insights, metrics)
    assert [(str(r.shop_id), r.revenue, r.orders, r.receipts) for r in reports] == [
        (A, Decimal("4000.00"), 3, 40), (B, Decimal("120.50"), 0, 2)]
    assert [(a.shop_id, a.metric, a.change_pct) for a in anomalies] == [
        (UUID(A), "visits", Decimal("150.00"))]
