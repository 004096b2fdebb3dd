-- Follows and unfollows of shops and accounts, signed: sum(delta) is the net change.

with source as (

    select * from {{ source('social', 'social_follows') }}

)

select
    event_id,
    event_type,
    follower_pseudo_id,
    target_type,
    target_id,
    active,
    if(active, 1, -1)                                       as delta,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
