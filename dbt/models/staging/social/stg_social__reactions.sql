-- Likes, saves and shares: one row per change (added, or taken back), signed so that
-- sum(delta) is the net count.

with source as (

    select * from {{ source('social', 'social_reactions') }}

)

select
    event_id,
    event_type,
    post_id,
    shop_id,
    reaction,
    user_pseudo_id,
    active,
    if(active, 1, -1)                                       as delta,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
