-- Each ad campaign's latest state (ads_campaigns_current: one row per campaign_id):
-- pricing, budgets, spend so far, schedule (Asia/Bishkek dates) and status. The later
-- billing marts (AD_EVENT_DAILY, seed 000 §22) join ad events to it.

with source as (

    select * from {{ source('ads', 'ads_campaigns_current') }}

)

select
    campaign_id,
    merchant_id,
    shop_id,
    type,
    pricing,
    {{ money('bid') }}                                      as bid,
    {{ money('daily_budget') }}                             as daily_budget,
    {{ money('total_budget') }}                             as total_budget,
    {{ money('spent') }}                                    as spent,
    {{ money('held') }}                                     as held,
    CAST(start_date, 'Date')                                as start_date,
    CAST(end_date, 'Date')                                  as end_date,
    status,
    pause_reason,
    moderation_status,
    markets,
    category_ids,
    tags,
    post_id,
    product_ids,
    has_banner,
    event_type                                              as last_event_type,
    {{ utc('occurred_at') }}                                as updated_at,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
