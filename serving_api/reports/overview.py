"""The shop overview: one row per metric, for the range and the period of the same length
just before it (from - n … from - 1 for a range of n days), and the change in per cent.

Declared as an ordinary `Report` (so the JSON endpoint, CSV/XLSX exports and the dashboard
read it like any other): its SQL aggregates each mart once over both periods, then
`arrayJoin`s the metrics declared in `METRICS` into rows. `value` and `previous` are
"decimal" columns (2 places) whose unit each row states in `kind` (money in KGS, count,
percent).

Definitions:
  visits      unique visitors per day and surface, summed over the days and surfaces
              (shop_engagement_daily.visitors): a visitor counted once a day per surface
              they came from
  orders      online orders paid in the period (on their paid date)
  conversion  orders / visits × 100; the till's walk-in buyers are not app visitors, so
              receipts are not counted. Orders carry no surface: under a surface filter
              conversion is NULL
  units       till units net + online units net
  avg_receipt till sales net of voids / receipts (as shop_metric_daily.avg_receipt)
  change_pct  (value - previous) / |previous| × 100; NULL when previous is 0 or NULL
A surface filter narrows the behavioural metrics (visits to chats); money, orders,
receipts, units and follows carry no surface and stay whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from serving_api.reports.model import Column, Report
from serving_api.reports.sql import SURFACE_FILTER, SURFACES, change_pct

# The period before the range: as many days, ending the day before `from`.
_SPAN = "(dateDiff('day', {lo:Date}, {hi:Date}) + 1)"
_PREV_LO = f"subtractDays({{lo:Date}}, {_SPAN})"
_BOTH = f"shop_id = {{shop:String}} AND date BETWEEN {_PREV_LO} AND {{hi:Date}}"


@dataclass(frozen=True)
class Metric:
    name: str
    title_ru: str
    kind: Literal["money", "count", "percent"]
    # Over one period's aggregates, `{p}` standing for the period prefix (cur_ / prev_).
    expr: str


# Aggregates read once per period: (alias, SQL over the mart's rows).
_SALES = {
    "pos_gross": "pos_gross", "online_gross": "online_gross", "pos_net": "pos_net",
    "online_net": "online_net", "net": "net", "online_orders": "online_orders",
    "receipts": "receipts", "units": "units + online_units",
    "pos_sales_amount": "pos_sales_amount",
}
_SEEN = {
    "visits": "visitors", "views": "views", "contact_clicks": "call_clicks",
    "route_builds": "route_builds", "chats": "chats",
}
_FOLLOWS = {"follows": "follows", "net_follows": "net_follows"}


def _dec(expr: str) -> str:
    return f"CAST({expr}, 'Nullable(Decimal(38, 6))')"


METRICS: tuple[Metric, ...] = (
    Metric("revenue_gross", "Выручка валовая (касса + онлайн), сом", "money",
           "s.{p}pos_gross + s.{p}online_gross"),
    Metric("revenue_net", "Чистая выручка (касса + онлайн), сом", "money", "s.{p}net"),
    Metric("pos_net", "Касса: чистая выручка, сом", "money", "s.{p}pos_net"),
    Metric("online_net", "Онлайн: чистая выручка, сом", "money", "s.{p}online_net"),
    Metric("orders", "Онлайн-заказов оплачено", "count", "s.{p}online_orders"),
    Metric("receipts", "Чеков", "count", "s.{p}receipts"),
    Metric("units", "Продано единиц", "count", "s.{p}units"),
    Metric("avg_receipt", "Средний чек, сом", "money",
           "if(s.{p}receipts > 0, CAST(s.{p}pos_sales_amount, 'Decimal(38, 6)') "
           "/ s.{p}receipts, NULL)"),
    Metric("visits", "Посещения", "count", "e.{p}visits"),
    Metric("views", "Просмотры", "count", "e.{p}views"),
    Metric("contact_clicks", "Клики по контактам (звонок)", "count", "e.{p}contact_clicks"),
    Metric("route_builds", "Построено маршрутов", "count", "e.{p}route_builds"),
    Metric("chats", "Начато чатов", "count", "e.{p}chats"),
    Metric("follows", "Новых подписчиков", "count", "f.{p}follows"),
    Metric("net_follows", "Прирост подписчиков", "count", "f.{p}net_follows"),
    Metric("conversion", "Конверсия посещений в онлайн-заказы, %", "percent",
           "if({{surface:String}} = '' AND e.{p}visits > 0, "
           "CAST(s.{p}online_orders, 'Decimal(38, 6)') * 100 / e.{p}visits, NULL)"),
)


def _aggregates(columns: dict[str, str]) -> str:
    """Each column summed over the range (cur_) and over the period before (prev_)."""
    parts = []
    for alias, expr in columns.items():
        parts.append(f"sumIf({expr}, date >= {{lo:Date}}) AS cur_{alias}")
        parts.append(f"sumIf({expr}, date < {{lo:Date}}) AS prev_{alias}")
    return ",\n                   ".join(parts)


def _rows() -> str:
    tuples = []
    for n, m in enumerate(METRICS, start=1):
        cur, prev = _dec(m.expr.format(p="cur_")), _dec(m.expr.format(p="prev_"))
        tuples.append(f"({n}, '{m.name}', '{m.title_ru}', '{m.kind}', {cur}, {prev})")
    return ",\n                ".join(tuples)


def _sql() -> str:
    return f"""
        SELECT position, metric, title, kind, value, previous,
               {change_pct('value', 'previous')} AS change_pct
        FROM (
            SELECT m.1 AS position, m.2 AS metric, m.3 AS title, m.4 AS kind,
                   m.5 AS value, m.6 AS previous
            FROM (
                SELECT arrayJoin([
                {_rows()}
                ]) AS m
                FROM (
                    SELECT {_aggregates(_SALES)}
                    FROM $db.shop_metric_daily WHERE {_BOTH}
                ) AS s
                CROSS JOIN (
                    SELECT {_aggregates(_SEEN)}
                    FROM $db.shop_engagement_daily WHERE {_BOTH} AND {SURFACE_FILTER}
                ) AS e
                CROSS JOIN (
                    SELECT {_aggregates(_FOLLOWS)}
                    FROM $db.shop_follows_daily WHERE {_BOTH}
                ) AS f
            )
        )
    """


OVERVIEW = Report(
    name="overview",
    title_ru="Обзор магазина",
    description="Revenue gross and net (till and online), orders, receipts, units, average "
                "receipt, visits, contact clicks, route builds, chats, follows, conversion; "
                "each beside the previous period of the same length.",
    models=("shop_metric_daily", "shop_engagement_daily", "shop_follows_daily"),
    # shop_follows_daily carries no watermark (a plain table rebuilt every refresh).
    freshness_models=("shop_metric_daily", "shop_engagement_daily"),
    surfaces=SURFACES,
    sql=_sql(),
    columns=(
        Column("position", "count", "№", total="none"),
        Column("metric", "text", "Показатель (код)"),
        Column("title", "text", "Показатель"),
        Column("kind", "text", "Единица"),
        Column("value", "decimal", "За период", total="none"),
        Column("previous", "decimal", "За предыдущий период", total="none"),
        Column("change_pct", "percent", "Изменение, %", total="none"),
    ),
    key=("metric",),
    default_sort="position",
)
