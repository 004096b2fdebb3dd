-- What was not billed and why (seed 000 §3.10): one row per campaign, local day, event type
-- and reason, with what those events would have cost at their serving price (cpc clicks,
-- cpm impressions / 1,000; fixed-price days are not split by event). Sellers see it beside
-- their campaign report: filtered traffic is never billed and never hidden.

select
    assumeNotNull(campaign_id)                                     as campaign_id,
    assumeNotNull(business_date)                                   as date,
    any(shop_id)                                                   as shop_id,
    event_type,
    assumeNotNull(invalid_reason)                                  as reason,
    toUInt64(count())                                              as events,
    CAST(round(sumIf(CAST(price, 'Decimal(18, 6)'), event_type = 'click' and pricing = 'cpc')
               + sumIf(CAST(price, 'Decimal(18, 6)'),
                       event_type = 'impression' and pricing = 'cpm') / 1000, 2),
         'Decimal(18, 2)')                                         as value_not_billed,
    CAST(max(_ingested_at), 'DateTime64(6, \'UTC\')')              as _ingested_through
from {{ ref('int_ad_events_classified') }}
where not billable
group by campaign_id, business_date, event_type, invalid_reason
