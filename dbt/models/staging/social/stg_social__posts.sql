-- Every change of every post (social.posts, deduplicated on event_id by the landing).
-- No caption text and no account id ever reach the lake: the author is a pseudonym.

with source as (

    select * from {{ source('social', 'social_posts') }}

)

select
    event_id,
    event_type,
    post_id,
    owner_type,
    shop_id,
    author_pseudo_id,
    visibility,
    status,
    moderation_status,
    pinned,
    hashtags,
    product_ids,
    media_count,
    has_video,
    text_length,
    CAST(lat, 'Nullable(Float64)')                          as lat,
    CAST(lon, 'Nullable(Float64)')                          as lon,
    {{ utc('created_at') }}                                 as created_at,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
