-- Ad impressions and clicks (ads.events, deduplicated on event_id by the landing), each
-- checked by the core against the signed token it issued when it served the ad. The price
-- is the bid at serving time (from the token). `viewer_key` is who saw or clicked: the
-- signed-in account's pseudonym, else the guest's session; `intake_flag` is what the core
-- already knew was not billable (int_ad_events_classified adds the lake's own rules).

with source as (

    select * from {{ source('ads', 'ads_events') }}

)

select
    event_id,
    event_type,
    impression_id,
    campaign_id,
    merchant_id,
    shop_id,
    campaign_type,
    placement,
    pricing,
    {{ money('price') }}                                    as price,
    target_type,
    target_id,
    position,
    viewer_pseudo_id,
    session_id,
    coalesce(viewer_pseudo_id, concat('session:', session_id))
                                                            as viewer_key,
    device_hash,
    address_hash,
    user_agent,
    own_ad,
    intake_flag,
    experiment_arm,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ utc('served_at') }}                                  as served_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
