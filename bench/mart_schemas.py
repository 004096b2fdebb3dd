"""The columns and types of the marts the seller reports read (dbt/models/marts/*/_models.yml),
for hand-made warehouses: the serving API's tests (tests/serving_api/report_marts.py) and the
dashboard's harness (bench/dashboard_stack.py) build the same tables from this one list."""

from __future__ import annotations

_COUNT, _INT, _MONEY = "UInt64", "Int64", "Decimal(18, 2)"
MARK = "_ingested_through DateTime64(6, 'UTC') DEFAULT now64(6)"

SCHEMAS: dict[str, tuple[list[str], str]] = {
    # name: (columns, order by)
    "shop_engagement_daily": (
        ["shop_id String", "date Date", "surface String",
         *(f"{c} {_COUNT}" for c in ("views", "shop_views", "product_views", "post_views",
                                     "visitors", "clicks", "add_to_cart", "route_builds",
                                     "chats", "call_clicks", "saves", "shares"))],
        "(shop_id, date, surface)"),
    "shop_follows_daily": (
        ["shop_id String", "date Date", f"follows {_COUNT}", f"unfollows {_COUNT}",
         f"net_follows {_INT}"], "(shop_id, date)"),
    "product_engagement_daily": (
        ["product_id String", "shop_id Nullable(String)", "date Date", "surface String",
         *(f"{c} {_COUNT}" for c in ("views", "visitors", "clicks", "add_to_cart", "saves",
                                     "shares"))],
        "(product_id, date, surface)"),
    "product_metric_daily": (
        ["shop_id String", "product_id String", "variant_id String", "date Date",
         *(f"{c} {_INT}" for c in ("pos_units", "online_units", "units")),
         *(f"{c} {_MONEY}" for c in ("pos_gross", "pos_discounts", "pos_refunds", "pos_voids",
                                     "pos_net", "online_gross", "online_refunds",
                                     "online_net", "net"))],
        "(shop_id, date, product_id, variant_id)"),
    "product_orders_daily": (
        ["shop_id String", "product_id String", "date Date", f"receipts {_INT}",
         f"online_orders {_COUNT}", f"online_refunded_orders {_COUNT}"],
        "(shop_id, date, product_id)"),
    "post_metric_daily": (
        ["post_id String", "date Date", "shop_id Nullable(String)",
         *(f"{c} {_COUNT}" for c in ("impressions", "reach", "views", "clicks")),
         f"likes {_INT}", f"saves {_INT}", f"shares {_COUNT}", f"comments {_COUNT}"],
        "(post_id, date)"),
    "order_funnel_daily": (
        ["shop_id String", "date Date", f"created_orders {_COUNT}", f"paid_orders {_COUNT}",
         f"paid_amount {_MONEY}"], "(shop_id, date)"),
    "pos_device_health_daily": (
        ["device_id String", "date Date", "shop_id Nullable(String)", f"heartbeats {_COUNT}",
         "first_heartbeat_at Nullable(DateTime64(6, 'UTC'))",
         "last_heartbeat_at Nullable(DateTime64(6, 'UTC'))", "online_minutes Decimal(10, 2)",
         f"offline_spells {_COUNT}", f"late_heartbeats {_COUNT}", f"dead_letters {_COUNT}",
         "dead_letters_by_reason Map(String, UInt64)", f"offline_transitions {_COUNT}"],
        "(device_id, date)"),
    "shop_insights_daily": (
        ["shop_id String", "date Date", "metric String", f"value {_MONEY}",
         "baseline Nullable(Decimal(18, 2))", "change_pct Nullable(Decimal(18, 2))",
         "baseline_days UInt32", "active_days UInt32", "signal String"],
        "(shop_id, date, metric)"),
    "ad_event_daily": (
        ["campaign_id String", "date Date", "shop_id Nullable(String)",
         "merchant_id Nullable(String)", "campaign_type Nullable(String)",
         "pricing Nullable(String)",
         *(f"{c} {_COUNT}" for c in ("impressions", "clicks", "billable_impressions",
                                     "billable_clicks", "invalid_impressions",
                                     "invalid_clicks")),
         f"spend {_MONEY}", "ctr Nullable(Float64)", "cpc Nullable(Decimal(18, 2))",
         "cpm Nullable(Decimal(18, 2))"],
        "(campaign_id, date)"),
    "ad_invalid_traffic_daily": (
        ["campaign_id String", "date Date", "shop_id Nullable(String)", "event_type String",
         "reason String", f"events {_COUNT}", f"value_not_billed {_MONEY}"],
        "(campaign_id, date, event_type, reason)"),
}
