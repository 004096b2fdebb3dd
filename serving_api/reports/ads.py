"""The seller's ad reports (issue 12 §3): what each campaign delivered and cost, and the
traffic that was filtered and never billed, from the ads marts (ad_event_daily,
ad_invalid_traffic_daily). `spend` is what the billing job asks the wallet for; the wallet
statement (`GET /ads/wallet/statement` in the core) shows what was charged, which is the
same except where a budget or the money capped a day (`make reconcile` proves both)."""

from __future__ import annotations

from serving_api.reports.model import Column, Ratio, Report
from serving_api.reports.sql import SHOP_RANGE, pct

AD_CAMPAIGNS = Report(
    name="ads",
    title_ru="Реклама: кампании",
    description="Per campaign of the shop: impressions and clicks reported, billable and "
                "filtered, spend (KGS, at each ad's serving price), CTR, CPC and CPM "
                "(ad_event_daily).",
    models=("ad_event_daily",),
    freshness_models=("ad_event_daily",),
    sql=f"""
        SELECT campaign_id, any_pricing AS pricing, impressions, clicks,
               billable_impressions, billable_clicks, invalid_impressions, invalid_clicks,
               spend, spend * 1000 AS spend_per_mille,
               {pct('billable_clicks', 'billable_impressions')} AS ctr,
               if(billable_clicks > 0,
                  CAST(spend, 'Decimal(38, 6)') / billable_clicks, NULL) AS cpc,
               if(billable_impressions > 0,
                  CAST(spend, 'Decimal(38, 6)') * 1000 / billable_impressions, NULL) AS cpm
        FROM (
            SELECT campaign_id, any(pricing) AS any_pricing,
                   sum(impressions) AS impressions, sum(clicks) AS clicks,
                   sum(billable_impressions) AS billable_impressions,
                   sum(billable_clicks) AS billable_clicks,
                   sum(invalid_impressions) AS invalid_impressions,
                   sum(invalid_clicks) AS invalid_clicks, sum(spend) AS spend
            FROM $db.ad_event_daily
            WHERE {SHOP_RANGE}
            GROUP BY campaign_id
        )
    """,
    columns=(
        Column("campaign_id", "id", "Кампания"),
        Column("pricing", "text", "Оплата"),
        Column("impressions", "count", "Показы"),
        Column("clicks", "count", "Клики"),
        Column("billable_impressions", "count", "Показы к оплате"),
        Column("billable_clicks", "count", "Клики к оплате"),
        Column("invalid_impressions", "count", "Отфильтровано показов"),
        Column("invalid_clicks", "count", "Отфильтровано кликов"),
        Column("spend", "money", "Расход, сом"),
        Column("spend_per_mille", "money", "Расход × 1000", hidden=True),
        Column("ctr", "percent", "CTR, %", total=Ratio("billable_clicks",
                                                       "billable_impressions")),
        Column("cpc", "money", "Цена клика, сом", total=Ratio("spend", "billable_clicks")),
        Column("cpm", "money", "Цена 1000 показов, сом",
               total=Ratio("spend_per_mille", "billable_impressions")),
    ),
    key=("campaign_id",),
    default_sort="-spend",
)

AD_TRAFFIC = Report(
    name="ad_traffic",
    title_ru="Реклама: отфильтрованный трафик",
    description="Ad impressions and clicks that were filtered and never billed, per "
                "campaign, event type and reason, with what they would have cost "
                "(ad_invalid_traffic_daily).",
    models=("ad_invalid_traffic_daily",),
    freshness_models=("ad_invalid_traffic_daily",),
    sql=f"""
        SELECT campaign_id, event_type, reason, sum(events) AS events,
               sum(value_not_billed) AS value_not_billed
        FROM $db.ad_invalid_traffic_daily
        WHERE {SHOP_RANGE}
        GROUP BY campaign_id, event_type, reason
    """,
    columns=(
        Column("campaign_id", "id", "Кампания"),
        Column("event_type", "text", "Событие"),
        Column("reason", "text", "Причина"),
        Column("events", "count", "Событий"),
        Column("value_not_billed", "money", "Не списано, сом"),
    ),
    key=("campaign_id", "event_type", "reason"),
    default_sort="-events",
)
