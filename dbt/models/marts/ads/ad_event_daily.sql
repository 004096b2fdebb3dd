-- AD_EVENT_DAILY (seed 000 §22): one row per campaign and local (Asia/Bishkek) day of its
-- reported events, after the invalid-traffic rules (int_ad_events_classified).
--
--   impressions, clicks                 everything reported
--   billable_impressions/_clicks        what passed every rule
--   invalid_impressions/_clicks         the rest (ad_invalid_traffic_daily says why)
--   spend                               what the day costs, exact to the tyiyn, at the
--                                       price each ad was served at:
--                                         cpc          sum of the billable clicks' prices
--                                         cpm          sum of the billable impressions'
--                                                      prices / 1,000, rounded half up
--                                                      once for the day
--                                         fixed_daily  the day's price once, on a day with
--                                                      at least one billable impression
--   ctr, cpc, cpm                       billable clicks / billable impressions, spend per
--                                       billable click, spend per 1,000 billable
--                                       impressions (NULL when the denominator is 0)
--
-- The billing job (orchestration.defs.ads) charges `spend` to the campaign's wallet: the
-- ledger's charges for a day add up to it (before budget caps), `make reconcile` proves it.
-- Spend is computed in whole tyiyn (Int64) and turned into Decimal once (exactly: a
-- Decimal product, never a Float).

with

typed as (

    select
        campaign_id,
        business_date,
        shop_id,
        merchant_id,
        campaign_type,
        pricing,
        event_type,
        billable,
        toInt64(price * 100)                                       as price_tyiyn,
        _ingested_at
    from {{ ref('int_ad_events_classified') }}

),

daily as (

    select
        campaign_id,
        business_date,
        any(shop_id)                                               as shop_id,
        any(merchant_id)                                           as merchant_id,
        any(campaign_type)                                         as campaign_type,
        argMax(pricing, price_tyiyn)                               as day_pricing,
        countIf(event_type = 'impression')                         as impressions,
        countIf(event_type = 'click')                              as clicks,
        countIf(event_type = 'impression' and billable)            as billable_impressions,
        countIf(event_type = 'click' and billable)                 as billable_clicks,
        sumIf(price_tyiyn, event_type = 'click' and billable and pricing = 'cpc')
                                                                   as cpc_tyiyn,
        sumIf(price_tyiyn, event_type = 'impression' and billable and pricing = 'cpm')
                                                                   as cpm_milli_tyiyn,
        if(countIf(event_type = 'impression' and billable and pricing = 'fixed_daily') > 0,
           maxIf(price_tyiyn, pricing = 'fixed_daily'), 0)         as fixed_tyiyn,
        max(_ingested_at)                                          as ingested_through
    from typed
    group by campaign_id, business_date

),

spent as (

    select
        *,
        cpc_tyiyn + intDiv(cpm_milli_tyiyn + 500, 1000) + fixed_tyiyn as spend_tyiyn
    from daily

)

select
    assumeNotNull(campaign_id)                                     as campaign_id,
    assumeNotNull(business_date)                                   as date,
    shop_id,
    merchant_id,
    campaign_type,
    day_pricing                                                    as pricing,
    toUInt64(impressions)                                          as impressions,
    toUInt64(clicks)                                               as clicks,
    toUInt64(billable_impressions)                                 as billable_impressions,
    toUInt64(billable_clicks)                                      as billable_clicks,
    toUInt64(impressions - billable_impressions)                   as invalid_impressions,
    toUInt64(clicks - billable_clicks)                             as invalid_clicks,
    CAST(toDecimal64(spend_tyiyn, 0) * toDecimal64('0.01', 2), 'Decimal(18, 2)') as spend,
    CAST(if(billable_impressions > 0, billable_clicks / billable_impressions, NULL),
         'Nullable(Float64)')                                      as ctr,
    -- ratios rounded half away from zero (ClickHouse's round on Decimal)
    CAST(if(billable_clicks > 0,
            round(toDecimal128(spend_tyiyn, 6) / 100 / billable_clicks, 2), NULL),
         'Nullable(Decimal(18, 2))')                               as cpc,
    CAST(if(billable_impressions > 0,
            round(toDecimal128(spend_tyiyn, 6) * 10 / billable_impressions, 2), NULL),
         'Nullable(Decimal(18, 2))')                               as cpm,
    CAST(ingested_through, 'DateTime64(6, \'UTC\')')               as _ingested_through

from spent
