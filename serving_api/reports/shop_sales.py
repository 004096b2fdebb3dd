"""The sellers' sales report, declared once: the `shop_metric_daily` mart (built by dbt) for
one shop and a date range, per day and in total. The JSON response and the CSV export both
draw their columns from `COLUMNS`, so they cannot disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from uuid import UUID

from infra.settings import get_settings
from serving_api.schemas import DailySales, SalesTotals

MART = "shop_metric_daily"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_MISSING_TABLE = ("UNKNOWN_TABLE", "UNKNOWN_DATABASE", "doesn't exist", "does not exist")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Literal["money", "count", "average"]
    title_ru: str


# The report's figures, in order (the JSON fields, the CSV columns after `date`).
COLUMNS: tuple[Column, ...] = (
    Column("pos_gross", "money", "Касса: продажи, сом"),
    Column("pos_discounts", "money", "Касса: скидки, сом"),
    Column("pos_refunds", "money", "Касса: возвраты, сом"),
    Column("pos_voids", "money", "Касса: аннулирования, сом"),
    Column("pos_net", "money", "Касса: чистая выручка, сом"),
    Column("receipts", "count", "Чеков"),
    Column("units", "count", "Продано единиц"),
    Column("avg_receipt", "average", "Средний чек, сом"),
    Column("online_orders", "count", "Онлайн-заказов оплачено"),
    Column("online_gross", "money", "Онлайн: оплачено, сом"),
    Column("online_refunds", "money", "Онлайн: возвраты, сом"),
    Column("online_net", "money", "Онлайн: чистая выручка, сом"),
    Column("net", "money", "Чистая выручка, сом"),
)
# Not shown, but needed to average receipts over a range: the day's sales net of voids.
_AVERAGE_BASE = "pos_sales_amount"


class ReportNotReady(Exception):
    """The mart has not been built yet (no refresh has run)."""


@dataclass(frozen=True)
class SalesReport:
    days: list[DailySales]
    totals: SalesTotals


def read(client: Any, shop_id: UUID, date_from: dt.date, date_to: dt.date) -> SalesReport:
    """The report of one shop for [date_from, date_to] (local days, inclusive)."""
    db = get_settings().warehouse_database
    names = ["date", *(c.name for c in COLUMNS), _AVERAGE_BASE]
    sql = (
        f"SELECT {', '.join(f'`{n}`' for n in names)} FROM `{db}`.`{MART}` "
        "WHERE shop_id = {shop:String} AND date BETWEEN {lo:Date} AND {hi:Date} "
        "ORDER BY date"
    )
    try:
        result = client.query(
            sql, parameters={"shop": str(shop_id), "lo": date_from, "hi": date_to}
        )
    except Exception as exc:
        if any(m in str(exc) for m in _MISSING_TABLE):
            raise ReportNotReady(str(exc)) from exc
        raise
    rows = [dict(zip(names, row, strict=True)) for row in result.result_rows]
    days = [DailySales(**{n: _value(n, r[n]) for n in names if n != _AVERAGE_BASE})
            for r in rows]
    return SalesReport(days=days, totals=_totals(rows))


def _value(name: str, value: Any) -> Any:
    kind = next((c.kind for c in COLUMNS if c.name == name), None)
    if value is None or kind is None:
        return value
    return int(value) if kind == "count" else Decimal(value)


def _totals(rows: list[dict[str, Any]]) -> SalesTotals:
    sums: dict[str, Any] = {}
    for col in COLUMNS:
        if col.kind == "money":
            sums[col.name] = sum((Decimal(r[col.name]) for r in rows), ZERO)
        elif col.kind == "count":
            sums[col.name] = sum(int(r[col.name]) for r in rows)
    base = sum((Decimal(r[_AVERAGE_BASE]) for r in rows), ZERO)
    receipts = sums["receipts"]
    # The same rule as the mart's daily avg_receipt: half up to the tyiyn, none without
    # receipts.
    sums["avg_receipt"] = (
        (base / receipts).quantize(CENT, rounding=ROUND_HALF_UP) if receipts > 0 else None)
    return SalesTotals(**sums)


def csv_header() -> list[str]:
    return ["date", *(c.name for c in COLUMNS)]


def csv_row(day: DailySales) -> list[str]:
    out = [day.date.isoformat()]
    for col in COLUMNS:
        value = getattr(day, col.name)
        if value is None:
            out.append("")
        elif col.kind == "count":
            out.append(str(value))
        else:
            out.append(f"{value:.2f}")
    return out
