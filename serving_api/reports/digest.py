"""The daily shop report and the anomaly insights (seed 000 §25.3 "суточный отчёт магазину,
аномалия (резкий спад/рост)", §25.5 template `daily_shop_report`).

- `daily`: one row per local day with the day's KPIs beside the same weekday a week
  earlier (weekly rhythms are strong at a bazaar: Monday against Sunday would always
  "drop"). The notification for yesterday reads `from = to = yesterday`.
- `insights`: the sharp drops and rises the lake found (mart `shop_insights_daily`, where
  the rule and its thresholds are documented), for complete days only: today is still
  filling up, so its revenue would always look like a drop.
"""

from __future__ import annotations

from serving_api.reports.model import Column, Ratio, Report
from serving_api.reports.sql import change_pct, pct

_WEEK_BEFORE = ("shop_id = {shop:String} "
                "AND date BETWEEN subtractDays({lo:Date}, 7) AND {hi:Date}")

DAILY = Report(
    name="daily",
    title_ru="Ежедневный отчёт",
    description="Per day: net revenue, receipts, online orders, units, average receipt, "
                "visits, contact clicks, routes, chats, follows, conversion; revenue and "
                "visits beside the same weekday a week earlier.",
    models=("shop_metric_daily", "shop_engagement_daily", "shop_follows_daily"),
    freshness_models=("shop_metric_daily", "shop_engagement_daily"),
    sql=f"""
        WITH
        sold AS (
            SELECT date AS day, net, receipts, online_orders, units + online_units AS units,
                   pos_sales_amount
            FROM $db.shop_metric_daily WHERE {_WEEK_BEFORE}
        ),
        seen AS (
            SELECT date AS day, sum(visitors) AS visits, sum(call_clicks) AS contact_clicks,
                   sum(route_builds) AS route_builds, sum(chats) AS chats
            FROM $db.shop_engagement_daily WHERE {_WEEK_BEFORE}
            GROUP BY date
        ),
        followed AS (
            SELECT date AS day, follows FROM $db.shop_follows_daily WHERE {_WEEK_BEFORE}
        ),
        days AS (
            SELECT day FROM sold UNION DISTINCT SELECT day FROM seen
            UNION DISTINCT SELECT day FROM followed
        ),
        kpi AS (
            SELECT days.day AS day,
                   CAST(ifNull(sold.net, 0), 'Decimal(18, 2)') AS net,
                   toInt64(ifNull(sold.receipts, 0)) AS receipts,
                   toUInt64(ifNull(sold.online_orders, 0)) AS online_orders,
                   toInt64(ifNull(sold.units, 0)) AS units,
                   CAST(ifNull(sold.pos_sales_amount, 0), 'Decimal(18, 2)') AS pos_sales_amount,
                   toUInt64(ifNull(seen.visits, 0)) AS visits,
                   toUInt64(ifNull(seen.contact_clicks, 0)) AS contact_clicks,
                   toUInt64(ifNull(seen.route_builds, 0)) AS route_builds,
                   toUInt64(ifNull(seen.chats, 0)) AS chats,
                   toUInt64(ifNull(followed.follows, 0)) AS follows
            FROM days
            LEFT JOIN sold ON sold.day = days.day
            LEFT JOIN seen ON seen.day = days.day
            LEFT JOIN followed ON followed.day = days.day
        ),
        -- each day's figures, moved a week on: joined to the day they compare with
        week_ago AS (SELECT addDays(day, 7) AS day, net, visits FROM kpi)
        SELECT
            kpi.day AS date,
            kpi.net AS revenue_net,
            CAST(ifNull(week_ago.net, 0), 'Decimal(18, 2)') AS revenue_net_week_ago,
            CAST(revenue_net - revenue_net_week_ago, 'Decimal(18, 2)') AS revenue_delta,
            {change_pct('revenue_net', 'revenue_net_week_ago')} AS revenue_change_pct,
            kpi.receipts AS receipts,
            kpi.online_orders AS online_orders,
            kpi.units AS units,
            if(kpi.receipts > 0,
               CAST(kpi.pos_sales_amount, 'Decimal(38, 6)') / kpi.receipts, NULL) AS avg_receipt,
            kpi.pos_sales_amount AS pos_sales_amount,
            kpi.visits AS visits,
            toUInt64(ifNull(week_ago.visits, 0)) AS visits_week_ago,
            toInt64(visits) - toInt64(visits_week_ago) AS visits_delta,
            {change_pct('visits', 'visits_week_ago')} AS visits_change_pct,
            kpi.contact_clicks AS contact_clicks,
            kpi.route_builds AS route_builds,
            kpi.chats AS chats,
            kpi.follows AS follows,
            {pct('online_orders', 'visits')} AS conversion
        FROM kpi
        LEFT JOIN week_ago ON week_ago.day = kpi.day
        WHERE kpi.day BETWEEN {{lo:Date}} AND {{hi:Date}}
    """,
    columns=(
        Column("date", "date", "Дата"),
        Column("revenue_net", "money", "Чистая выручка, сом"),
        Column("revenue_net_week_ago", "money", "Неделю назад, сом"),
        Column("revenue_delta", "money", "Разница выручки, сом", hidden=True),
        Column("revenue_change_pct", "percent", "Выручка: изменение за неделю, %",
               total=Ratio("revenue_delta", "revenue_net_week_ago")),
        Column("receipts", "count", "Чеков"),
        Column("online_orders", "count", "Онлайн-заказов оплачено"),
        Column("units", "count", "Продано единиц"),
        Column("avg_receipt", "money", "Средний чек, сом",
               total=Ratio("pos_sales_amount", "receipts")),
        Column("pos_sales_amount", "money", "Касса: продажи без аннулированных, сом",
               hidden=True),
        Column("visits", "count", "Посещения"),
        Column("visits_week_ago", "count", "Посещения неделю назад"),
        Column("visits_delta", "count", "Разница посещений", hidden=True),
        Column("visits_change_pct", "percent", "Посещения: изменение за неделю, %",
               total=Ratio("visits_delta", "visits_week_ago")),
        Column("contact_clicks", "count", "Клики по контактам"),
        Column("route_builds", "count", "Маршруты"),
        Column("chats", "count", "Чаты"),
        Column("follows", "count", "Новых подписчиков"),
        # Online orders paid / visits (as in the overview).
        Column("conversion", "percent", "Конверсия, %", total=Ratio("online_orders", "visits")),
    ),
    key=("date",),
    default_sort="-date",
)

INSIGHTS = Report(
    name="insights",
    title_ru="Аномалии",
    description="Sharp drops and rises of revenue or visits against the shop's own last 28 "
                "days (shop_insights_daily), complete days only.",
    models=("shop_insights_daily",),
    freshness_models=("shop_insights_daily",),
    sql="""
        SELECT date, metric,
               multiIf(metric = 'revenue', 'Чистая выручка, сом',
                       metric = 'visits', 'Посещения', metric) AS metric_title,
               signal, value, baseline, change_pct, baseline_days, active_days
        FROM $db.shop_insights_daily
        WHERE shop_id = {shop:String} AND date BETWEEN {lo:Date} AND {hi:Date}
          AND signal != '' AND date < toDate(now(), {tz:String})
    """,
    columns=(
        Column("date", "date", "Дата"),
        Column("metric", "text", "Показатель (код)"),
        Column("metric_title", "text", "Показатель"),
        Column("signal", "text", "Сигнал (drop — спад, rise — рост)"),
        Column("value", "decimal", "Значение за день", total="none"),
        Column("baseline", "decimal", "Среднее за 28 дней", total="none"),
        Column("change_pct", "percent", "Отклонение, %", total="none"),
        Column("baseline_days", "count", "Дней в базе", total="none"),
        Column("active_days", "count", "Дней с данными в базе", total="none"),
    ),
    key=("date", "metric"),
    default_sort="-date",
)
