"""Every seller report, declared once (see `serving_api.reports.model`).

The routers (`serving_api.routers.reports`), the exports and the dashboard iterate over
`REPORTS`; adding a report is one declaration here (and its mart in dbt). The overview
lives in `overview.py`, the daily report and the insights in `digest.py`, the ad reports in
`ads.py`.

A surface filter (map, feed, search, ...) narrows what the behavioural events say (views,
visits, clicks, add to cart, routes, chats). Money, orders, receipts and units come from
the till and from paid orders, which carry no surface: they stay whole under a filter, and
their titles say "все источники" where a report mixes the two.
"""

from __future__ import annotations

from serving_api.reports.ads import AD_CAMPAIGNS, AD_TRAFFIC
from serving_api.reports.digest import DAILY, INSIGHTS
from serving_api.reports.model import Column, Ratio, Report
from serving_api.reports.overview import OVERVIEW
from serving_api.reports.sql import SHOP_RANGE, SURFACE_FILTER, SURFACES, pct

__all__ = ["REPORTS", "SURFACES"]

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

# Per product: what people did with it (product_engagement_daily, by surface) beside what
# it sold (product_metric_daily: units and money; product_orders_daily: receipts and
# orders holding it). Behavioural events name a product, never a variant, so this report
# is per product; `product_variants` breaks the sales down by variant.
PRODUCTS = Report(
    name="products",
    title_ru="Товары",
    description="Per product: views, visitors, clicks, add to cart (by surface) and orders, "
                "units, revenue (till + online, every surface).",
    models=("product_engagement_daily", "product_metric_daily", "product_orders_daily"),
    freshness_models=("product_engagement_daily", "product_metric_daily",
                      "product_orders_daily"),
    surfaces=SURFACES,
    query_route="/analytics/products",
    sql=f"""
        WITH
        seen AS (
            SELECT product_id, sum(views) AS views, sum(visitors) AS visitors,
                   sum(clicks) AS clicks, sum(add_to_cart) AS add_to_cart
            FROM $db.product_engagement_daily
            WHERE {SHOP_RANGE} AND {SURFACE_FILTER}
            GROUP BY product_id
        ),
        sold AS (
            SELECT product_id, sum(units) AS units, sum(pos_net) AS pos_net,
                   sum(online_net) AS online_net, sum(net) AS revenue
            FROM $db.product_metric_daily
            WHERE {SHOP_RANGE}
            GROUP BY product_id
        ),
        ordered AS (
            SELECT product_id, sum(receipts) AS receipts, sum(online_orders) AS online_orders
            FROM $db.product_orders_daily
            WHERE {SHOP_RANGE}
            GROUP BY product_id
        ),
        products AS (
            SELECT product_id FROM seen
            UNION DISTINCT SELECT product_id FROM sold
            UNION DISTINCT SELECT product_id FROM ordered
        )
        SELECT
            products.product_id AS product_id,
            toUInt64(ifNull(seen.views, 0)) AS views,
            toUInt64(ifNull(seen.visitors, 0)) AS visitors,
            toUInt64(ifNull(seen.clicks, 0)) AS clicks,
            toUInt64(ifNull(seen.add_to_cart, 0)) AS add_to_cart,
            toInt64(ifNull(ordered.receipts, 0)) AS receipts,
            toInt64(ifNull(ordered.online_orders, 0)) AS online_orders,
            receipts + online_orders AS orders,
            toInt64(ifNull(sold.units, 0)) AS units,
            CAST(ifNull(sold.pos_net, 0), 'Decimal(38, 2)') AS pos_net,
            CAST(ifNull(sold.online_net, 0), 'Decimal(38, 2)') AS online_net,
            CAST(ifNull(sold.revenue, 0), 'Decimal(38, 2)') AS revenue,
            -- orders carry no surface: a rate over one surface's visitors would mislead,
            -- so under a filter the rate has no denominator (NULL, in the totals too)
            if({{surface:String}} = '', visitors, 0) AS conversion_visitors,
            {pct('online_orders', 'conversion_visitors')} AS conversion
        FROM products
        LEFT JOIN seen ON seen.product_id = products.product_id
        LEFT JOIN sold ON sold.product_id = products.product_id
        LEFT JOIN ordered ON ordered.product_id = products.product_id
    """,
    columns=(
        Column("product_id", "id", "Товар"),
        Column("views", "count", "Просмотры"),
        Column("visitors", "count", "Посетители (по дням)"),
        Column("clicks", "count", "Клики"),
        Column("add_to_cart", "count", "Добавления в корзину"),
        Column("orders", "count", "Заказы и чеки (все источники)"),
        Column("receipts", "count", "Чеков с товаром (все источники)"),
        Column("online_orders", "count", "Онлайн-заказов с товаром (все источники)"),
        Column("units", "count", "Продано единиц (все источники)"),
        Column("pos_net", "money", "Касса: чистая выручка, сом"),
        Column("online_net", "money", "Онлайн: чистая выручка, сом"),
        Column("revenue", "money", "Чистая выручка, сом (все источники)"),
        # Online orders paid per visitor-day (the till's walk-in buyers are no app
        # visitors); none under a surface filter.
        Column("conversion", "percent", "Конверсия в онлайн-заказ, %",
               total=Ratio("online_orders", "conversion_visitors")),
        Column("conversion_visitors", "count", "Посетители для конверсии", hidden=True),
    ),
    key=("product_id",),
    default_sort="-revenue",
)

PRODUCT_VARIANTS = Report(
    name="product_variants",
    title_ru="Товары по вариантам",
    description="Per product variant: units and net revenue, till and online "
                "(product_metric_daily).",
    models=("product_metric_daily",),
    freshness_models=("product_metric_daily",),
    sql=f"""
        SELECT product_id, variant_id, sum(pos_units) AS pos_units,
               sum(online_units) AS online_units, sum(units) AS units,
               sum(pos_gross) AS pos_gross, sum(pos_discounts) AS pos_discounts,
               sum(pos_refunds) AS pos_refunds, sum(pos_voids) AS pos_voids,
               sum(pos_net) AS pos_net, sum(online_gross) AS online_gross,
               sum(online_refunds) AS online_refunds, sum(online_net) AS online_net,
               sum(net) AS revenue
        FROM $db.product_metric_daily
        WHERE {SHOP_RANGE}
        GROUP BY product_id, variant_id
    """,
    columns=(
        Column("product_id", "id", "Товар"),
        Column("variant_id", "id", "Вариант"),
        Column("pos_units", "count", "Касса: единиц"),
        Column("online_units", "count", "Онлайн: единиц"),
        Column("units", "count", "Продано единиц"),
        Column("pos_gross", "money", "Касса: продажи, сом"),
        Column("pos_discounts", "money", "Касса: скидки, сом"),
        Column("pos_refunds", "money", "Касса: возвраты, сом"),
        Column("pos_voids", "money", "Касса: аннулирования, сом"),
        Column("pos_net", "money", "Касса: чистая выручка, сом"),
        Column("online_gross", "money", "Онлайн: оплачено, сом"),
        Column("online_refunds", "money", "Онлайн: возвраты, сом"),
        Column("online_net", "money", "Онлайн: чистая выручка, сом"),
        Column("revenue", "money", "Чистая выручка, сом"),
    ),
    key=("product_id", "variant_id"),
    default_sort="-revenue",
)

# Reach is summed over days: a viewer who comes back on another day counts again (the
# mart's reach is unique per post and day). ER and CTR are recomputed from the sums.
POSTS = Report(
    name="posts",
    title_ru="Публикации",
    description="Per post of the shop: impressions, reach, views, clicks, likes, saves, "
                "shares, comments, ER and CTR (post_metric_daily).",
    models=("post_metric_daily",),
    freshness_models=("post_metric_daily",),
    sql=f"""
        SELECT post_id, impressions, reach, views, clicks, likes, saves, shares, comments,
               likes + saves + shares + comments AS engagements,
               {pct('engagements', 'reach')} AS er,
               {pct('clicks', 'impressions')} AS ctr
        FROM (
            SELECT post_id, sum(impressions) AS impressions, sum(reach) AS reach,
                   sum(views) AS views, sum(clicks) AS clicks, sum(likes) AS likes,
                   sum(saves) AS saves, sum(shares) AS shares, sum(comments) AS comments
            FROM $db.post_metric_daily
            WHERE {SHOP_RANGE}
            GROUP BY post_id
        )
    """,
    columns=(
        Column("post_id", "id", "Публикация"),
        Column("impressions", "count", "Показы"),
        Column("reach", "count", "Охват (сумма по дням)"),
        Column("views", "count", "Просмотры"),
        Column("clicks", "count", "Клики"),
        Column("likes", "count", "Лайки"),
        Column("saves", "count", "Сохранения"),
        Column("shares", "count", "Репосты"),
        Column("comments", "count", "Комментарии"),
        Column("engagements", "count", "Вовлечения"),
        # ER = (likes + saves + shares + comments) / reach; CTR = clicks / impressions.
        Column("er", "percent", "ER, %", total=Ratio("engagements", "reach")),
        Column("ctr", "percent", "CTR, %", total=Ratio("clicks", "impressions")),
    ),
    key=("post_id",),
    default_sort="-impressions",
)

# The map surface (seed 000 §5 "по карте"): the shop's point viewed on the map, and what
# followed from there; route_builds_all counts routes built from any surface.
MAP = Report(
    name="map",
    title_ru="Карта",
    description="Per day: views of the shop's point on the map, visitors, clicks, route "
                "builds, chats and calls from the map (shop_engagement_daily).",
    models=("shop_engagement_daily",),
    freshness_models=("shop_engagement_daily",),
    # (inner aliases differ from the mart's columns: an alias named like a column would
    # shadow it inside the other aggregates)
    sql=f"""
        SELECT date, m_point_views AS point_views, m_visitors AS visitors,
               m_clicks AS clicks, m_route_builds AS route_builds, m_chats AS chats,
               m_call_clicks AS call_clicks, m_route_builds_all AS route_builds_all,
               {pct('m_route_builds', 'm_point_views')} AS route_rate
        FROM (
            SELECT date,
                   sumIf(shop_views, surface = 'map') AS m_point_views,
                   sumIf(visitors, surface = 'map') AS m_visitors,
                   sumIf(clicks, surface = 'map') AS m_clicks,
                   sumIf(route_builds, surface = 'map') AS m_route_builds,
                   sumIf(chats, surface = 'map') AS m_chats,
                   sumIf(call_clicks, surface = 'map') AS m_call_clicks,
                   sum(route_builds) AS m_route_builds_all
            FROM $db.shop_engagement_daily
            WHERE {SHOP_RANGE}
            GROUP BY date
            HAVING m_point_views + m_visitors + m_clicks + m_route_builds_all > 0
        )
    """,
    columns=(
        Column("date", "date", "Дата"),
        Column("point_views", "count", "Просмотры точки на карте"),
        Column("visitors", "count", "Посетители с карты"),
        Column("clicks", "count", "Клики с карты"),
        Column("route_builds", "count", "Маршруты с карты"),
        Column("chats", "count", "Чаты с карты"),
        Column("call_clicks", "count", "Звонки с карты"),
        Column("route_builds_all", "count", "Маршруты (все источники)"),
        Column("route_rate", "percent", "Маршрутов на просмотр точки, %",
               total=Ratio("route_builds", "point_views")),
    ),
    key=("date",),
    default_sort="date",
)

# views → clicks → add to cart (behavioural, by surface) → orders created → paid (the
# core's orders, every surface). Each rate is a step over the step before it; orders can
# skip the cart, so order_rate may pass 100 %.
FUNNEL = Report(
    name="funnel",
    title_ru="Воронка",
    description="Per day: views, clicks, add to cart (by surface), online orders created "
                "and paid (shop_engagement_daily, order_funnel_daily).",
    models=("shop_engagement_daily", "order_funnel_daily"),
    freshness_models=("shop_engagement_daily", "order_funnel_daily"),
    surfaces=SURFACES,
    sql=f"""
        WITH
        seen AS (
            SELECT date AS day, sum(views) AS views, sum(visitors) AS visitors,
                   sum(clicks) AS clicks, sum(add_to_cart) AS add_to_cart
            FROM $db.shop_engagement_daily
            WHERE {SHOP_RANGE} AND {SURFACE_FILTER}
            GROUP BY date
        ),
        ordered AS (
            SELECT date AS day, created_orders, paid_orders, paid_amount
            FROM $db.order_funnel_daily
            WHERE {SHOP_RANGE}
        ),
        days AS (SELECT day FROM seen UNION DISTINCT SELECT day FROM ordered)
        SELECT
            days.day AS date,
            toUInt64(ifNull(seen.views, 0)) AS views,
            toUInt64(ifNull(seen.visitors, 0)) AS visitors,
            toUInt64(ifNull(seen.clicks, 0)) AS clicks,
            toUInt64(ifNull(seen.add_to_cart, 0)) AS add_to_cart,
            toUInt64(ifNull(ordered.created_orders, 0)) AS orders_created,
            toUInt64(ifNull(ordered.paid_orders, 0)) AS orders_paid,
            CAST(ifNull(ordered.paid_amount, 0), 'Decimal(18, 2)') AS paid_amount,
            {pct('clicks', 'views')} AS click_rate,
            {pct('add_to_cart', 'clicks')} AS cart_rate,
            {pct('orders_created', 'add_to_cart')} AS order_rate,
            {pct('orders_paid', 'orders_created')} AS paid_rate
        FROM days
        LEFT JOIN seen ON seen.day = days.day
        LEFT JOIN ordered ON ordered.day = days.day
    """,
    columns=(
        Column("date", "date", "Дата"),
        Column("views", "count", "Просмотры"),
        Column("visitors", "count", "Посетители"),
        Column("clicks", "count", "Клики"),
        Column("add_to_cart", "count", "Добавления в корзину"),
        Column("orders_created", "count", "Заказов создано (все источники)"),
        Column("orders_paid", "count", "Заказов оплачено (все источники)"),
        Column("paid_amount", "money", "Оплачено, сом (все источники)"),
        Column("click_rate", "percent", "Клики / просмотры, %",
               total=Ratio("clicks", "views")),
        Column("cart_rate", "percent", "Корзина / клики, %",
               total=Ratio("add_to_cart", "clicks")),
        Column("order_rate", "percent", "Заказы / корзина, %",
               total=Ratio("orders_created", "add_to_cart")),
        Column("paid_rate", "percent", "Оплачено / создано, %",
               total=Ratio("orders_paid", "orders_created")),
    ),
    key=("date",),
    default_sort="date",
)

# Dead-letter reason codes (marketplace_core.pos.ingest.REASONS) in three groups a seller
# can act on: the terminal's credentials, the items rung up, the event itself.
# tests/serving_api/test_reports.py checks the groups cover every code.
DEVICE_REASONS = ("UNKNOWN_DEVICE", "INVALID_DEVICE_TOKEN", "DEVICE_RETIRED", "BAD_SIGNATURE")
ITEM_REASONS = ("NO_ITEMS", "TOO_MANY_ITEMS", "MISSING_ITEM_REF", "UNKNOWN_VARIANT",
                "INVALID_QUANTITY", "PRICE_MISMATCH")


def _reasons_in(codes: tuple[str, ...], negate: bool = False) -> str:
    listed = ", ".join(f"'{c}'" for c in codes)
    test = f"k {'NOT ' if negate else ''}IN ({listed})"
    return f"arraySum(mapValues(mapFilter((k, v) -> {test}, dead_letters_by_reason)))"


POS = Report(
    name="pos",
    title_ru="Кассы (POS)",
    description="Per terminal and day: heartbeats, online minutes, offline spells, refused "
                "events by reason (pos_device_health_daily).",
    models=("pos_device_health_daily",),
    freshness_models=("pos_device_health_daily",),
    sql=f"""
        SELECT device_id, date, heartbeats, first_heartbeat_at, last_heartbeat_at,
               toInt64(floor(online_minutes)) AS online_minutes, offline_spells,
               late_heartbeats, offline_transitions, dead_letters,
               {_reasons_in(DEVICE_REASONS)} AS dead_letters_device,
               {_reasons_in(ITEM_REASONS)} AS dead_letters_items,
               {_reasons_in(DEVICE_REASONS + ITEM_REASONS, negate=True)} AS dead_letters_other,
               arrayStringConcat(arrayMap((k, v) -> concat(k, ': ', toString(v)),
                                          mapKeys(mapSort(dead_letters_by_reason)),
                                          mapValues(mapSort(dead_letters_by_reason))), ', ')
                   AS dead_letter_reasons
        FROM $db.pos_device_health_daily
        WHERE {SHOP_RANGE}
    """,
    columns=(
        Column("device_id", "id", "Касса"),
        Column("date", "date", "Дата"),
        Column("heartbeats", "count", "Сигналов связи"),
        Column("first_heartbeat_at", "datetime", "Первый сигнал"),
        Column("last_heartbeat_at", "datetime", "Последний сигнал"),
        # Whole minutes, rounded down (the mart's figure is itself an estimate from below).
        Column("online_minutes", "count", "Минут на связи"),
        Column("offline_spells", "count", "Перерывов связи > 10 мин"),
        Column("late_heartbeats", "count", "Запоздалых сигналов"),
        Column("offline_transitions", "count", "Переходов в офлайн"),
        Column("dead_letters", "count", "Отклонённых событий"),
        Column("dead_letters_device", "count", "Отклонено: касса/подпись"),
        Column("dead_letters_items", "count", "Отклонено: товары/цены"),
        Column("dead_letters_other", "count", "Отклонено: прочее"),
        Column("dead_letter_reasons", "text", "Причины отклонений"),
    ),
    key=("device_id", "date"),
    default_sort="date",
)

REPORTS: dict[str, Report] = {r.name: r for r in (
    OVERVIEW, SALES, PRODUCTS, PRODUCT_VARIANTS, POSTS, MAP, FUNNEL, POS, DAILY, INSIGHTS,
    AD_CAMPAIGNS, AD_TRAFFIC)}
