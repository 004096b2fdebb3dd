"""Reading the `shop_sales_daily` mart (built by dbt) for one shop and a date range."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID

from infra.settings import get_settings
from serving_api.schemas import DailySales, SalesTotals

_MISSING_TABLE = ("UNKNOWN_TABLE", "UNKNOWN_DATABASE", "doesn't exist", "does not exist")


class ReportNotReady(Exception):
    """The mart has not been built yet (no refresh has run)."""


def daily_sales(
    client: Any, shop_id: UUID, date_from: dt.date, date_to: dt.date
) -> list[DailySales]:
    db = get_settings().warehouse_database
    sql = (
        f"SELECT sale_date, revenue, receipts, units FROM `{db}`.shop_sales_daily "
        "WHERE shop_id = {shop:String} AND sale_date BETWEEN {lo:Date} AND {hi:Date} "
        "ORDER BY sale_date"
    )
    try:
        result = client.query(
            sql, parameters={"shop": str(shop_id), "lo": date_from, "hi": date_to}
        )
    except Exception as exc:
        if any(m in str(exc) for m in _MISSING_TABLE):
            raise ReportNotReady(str(exc)) from exc
        raise
    return [
        DailySales(date=row[0], revenue=Decimal(row[1]), receipts=int(row[2]), units=int(row[3]))
        for row in result.result_rows
    ]


def totals(days: list[DailySales]) -> SalesTotals:
    return SalesTotals(
        revenue=sum((d.revenue for d in days), Decimal("0.00")),
        receipts=sum(d.receipts for d in days),
        units=sum(d.units for d in days),
    )
