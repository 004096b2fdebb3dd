-- Each post's latest state (social_posts_current: one row per post_id), as Explore ranks
-- it: only `is_rankable` posts (public, active, not flagged or rejected) get a score.

with source as (

    select * from {{ source('social', 'social_posts_current') }}

)

select
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
    visibility = 'public' and status = 'active' and moderation_status = 'ok'
                                                            as is_rankable,
    {{ utc('created_at') }}                                 as created_at,
    {{ utc('occurred_at') }}                                as updated_at,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
