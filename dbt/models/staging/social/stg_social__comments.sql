-- Every change of every comment (created, flagged, hidden, restored, deleted); no text.

with source as (

    select * from {{ source('social', 'social_comments') }}

)

select
    event_id,
    event_type,
    comment_id,
    post_id,
    shop_id,
    user_pseudo_id,
    status,
    verified_purchase,
    text_length,
    {{ utc('created_at') }}                                 as created_at,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
