-- One row per post and local (Asia/Bishkek) day (seed 000 §5, §22): impressions, reach
-- (unique viewers: account pseudonym, else install id, else session), views, clicks,
-- likes, saves, shares and comments gained that day (likes and saves net of those taken
-- back), engagement rate = (likes + comments + saves + shares) / reach and CTR = clicks /
-- impressions (NULL when the denominator is 0).
--
-- Incremental (delete+insert by post and day), like shop_metric_daily: a run recomputes
-- the post-days touched by rows landed since the mart's watermark.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['post_id', 'date'],
    engine='MergeTree()',
    order_by='(post_id, date)',
) }}

{% set touched_only %}
    {% if is_incremental() %}
    and (post_id, business_date) in (select post_id, business_date from touched)
    {% endif %}
{% endset %}

with

{% if is_incremental() %}
touched as (

    select post_id, business_date from {{ ref('int_behaviour_events_attributed') }}
    where post_id is not null and _ingested_at > {{ ingested_since() }}
    union distinct
    select post_id, business_date from {{ ref('stg_social__reactions') }}
    where _ingested_at > {{ ingested_since() }}
    union distinct
    select post_id, business_date from {{ ref('stg_social__comments') }}
    where _ingested_at > {{ ingested_since() }}

),
{% endif %}

seen as (

    select
        assumeNotNull(post_id)                                     as post_id,
        business_date,
        countIf(event_type = 'post_impression')                    as impressions,
        countIf(event_type = 'view')                               as views,
        uniqExactIf(viewer_key, event_type in ('post_impression', 'view')) as reach,
        countIf(event_type = 'click')                              as clicks,
        max(_ingested_at)                                          as ingested_through
    from {{ ref('int_behaviour_events_attributed') }}
    where post_id is not null {{ touched_only }}
    group by post_id, business_date

),

reacted as (

    select
        post_id,
        business_date,
        sumIf(delta, reaction = 'like')                            as likes,
        sumIf(delta, reaction = 'save')                            as saves,
        countIf(reaction = 'share' and active)                     as shares,
        max(_ingested_at)                                          as ingested_through
    from {{ ref('stg_social__reactions') }}
    where 1 {{ touched_only }}
    group by post_id, business_date

),

commented as (

    select
        post_id,
        business_date,
        countIf(event_type = 'comment.created')                    as comments,
        max(_ingested_at)                                          as ingested_through
    from {{ ref('stg_social__comments') }}
    where 1 {{ touched_only }}
    group by post_id, business_date

),

post_days as (

    select post_id, business_date from seen
    union distinct
    select post_id, business_date from reacted
    union distinct
    select post_id, business_date from commented

),

posts as (

    select post_id, shop_id from {{ ref('stg_social__post_current') }}

),

joined as (

    select
        post_days.post_id                                          as post_id,
        post_days.business_date                                    as date,
        posts.shop_id                                              as shop_id,
        toUInt64(ifNull(seen.impressions, 0))                      as impressions,
        toUInt64(ifNull(seen.reach, 0))                            as reach,
        toUInt64(ifNull(seen.views, 0))                            as views,
        toUInt64(ifNull(seen.clicks, 0))                           as clicks,
        toInt64(ifNull(reacted.likes, 0))                          as likes,
        toInt64(ifNull(reacted.saves, 0))                          as saves,
        toUInt64(ifNull(reacted.shares, 0))                        as shares,
        toUInt64(ifNull(commented.comments, 0))                    as comments,
        greatest(ifNull(seen.ingested_through, toDateTime64(0, 6, 'UTC')),
                 ifNull(reacted.ingested_through, toDateTime64(0, 6, 'UTC')),
                 ifNull(commented.ingested_through, toDateTime64(0, 6, 'UTC')))
                                                                   as ingested_through
    from post_days
    left join seen
        on seen.post_id = post_days.post_id and seen.business_date = post_days.business_date
    left join reacted
        on reacted.post_id = post_days.post_id
       and reacted.business_date = post_days.business_date
    left join commented
        on commented.post_id = post_days.post_id
       and commented.business_date = post_days.business_date
    left join posts
        on posts.post_id = post_days.post_id

)

select
    assumeNotNull(post_id)                                         as post_id,
    assumeNotNull(date)                                            as date,
    shop_id,
    impressions,
    reach,
    views,
    clicks,
    likes,
    saves,
    shares,
    comments,
    CAST(if(reach > 0, (likes + saves + shares + comments) / reach, NULL),
         'Nullable(Float64)')                                      as engagement_rate,
    CAST(if(impressions > 0, clicks / impressions, NULL), 'Nullable(Float64)') as ctr,
    CAST(ingested_through, 'DateTime64(6, \'UTC\')')               as _ingested_through

from joined
