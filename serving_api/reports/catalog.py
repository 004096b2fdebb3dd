"""Every seller report, declared once (see `serving_api.reports.model`).

The routers (`serving_api.routers.reports`), the exports and the dashboard iterate over
`REPORTS`; adding a report is one declaration here (and its mart in dbt).
"""

from __future__ import annotations

from serving_api.reports.model import Column, Ratio, Report

# Where a buyer met the shop (the `surface` of behavioural events, seed 000 §5).
SURFACES = ("map", "feed", "following", "explore", "search", "profile", "ad", "other")

SALES = Report(
    name="sales",
    title_ru="Продажи по дням",
    description="Daily sales of one shop, till and online, gross to net (shop_metric_daily).",
    models=("shop_metric_daily",),
    freshness_models=("shop_metric_daily",),
    sql="""
        SELECT date, pos_gross, pos_discounts, pos_refunds, pos_voids, pos_net, receipts,
               units, avg_receipt, online_orders, online_gross, online_refunds, online_net,
               net, pos_sales_amount
        FROM $db.shop_metric_daily
        WHERE shop_id = {shop:String} AND date BETWEEN {lo:Date} AND {hi:Date}
    """,
    columns=(
        Column("date", "date", "Дата"),
        Column("pos_gross", "money", "Касса: продажи, сом"),
        Column("pos_discounts", "money", "Касса: скидки, сом"),
        Column("pos_refunds", "money", "Касса: возвраты, сом"),
        Column("pos_voids", "money", "Касса: аннулирования, сом"),
        Column("pos_net", "money", "Касса: чистая выручка, сом"),
        Column("receipts", "count", "Чеков"),
        Column("units", "count", "Продано единиц"),
        # The same rule as the mart's daily figure: sales net of voids / receipts.
        Column("avg_receipt", "money", "Средний чек, сом",
               total=Ratio("pos_sales_amount", "receipts")),
        Column("online_orders", "count", "Онлайн-заказов оплачено"),
        Column("online_gross", "money", "Онлайн: оплачено, сом"),
        Column("online_refunds", "money", "Онлайн: возвраты, сом"),
        Column("online_net", "money", "Онлайн: чистая выручка, сом"),
        Column("net", "money", "Чистая выручка, сом"),
        Column("pos_sales_amount", "money", "Касса: продажи без аннулированных, сом",
               hidden=True),
    ),
    key=("date",),
    default_sort="date",
)

REPORTS: dict[str, Report] = {r.name: r for r in (SALES,)}
