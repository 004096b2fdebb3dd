-- Explore's ranking (seed 000 §4.6): one row per rankable post (public, active, not
-- flagged or rejected) with its score and the parts it is made of. Rebuilt whole on every
-- refresh (one row per post), read by Dagster's `explore_scores` asset and written back to
-- the core (social.explore_scores), which serves it; the viewer-dependent parts (distance
-- to `near`, tag match) are added by the core at request time.
--
--   engagement     = ln(1 + sum of likes·1 + comments·3 + saves·4 + shares·5 over the
--                    last 14 days, each decayed by exp(-age_days / 3))
--   freshness      = exp(-post_age_hours / 48)
--   ctr            = (clicks + 1) / (impressions + 20) over 14 days (smoothed so a new
--                    post is neither 0 nor 1)
--   seller_quality = for a shop's post: 0.4·(POS active in 30 days) + 0.3·(1 - refund
--                    and cancellation rate over 90 days) + 0.3·(1 - share of the shop's
--                    posts flagged or rejected); 0.5 for a user's post
--   score          = 1.0·engagement + 2.0·freshness + 10·ctr + 1.0·seller_quality

{{ config(materialized='table', engine='MergeTree()', order_by='post_id') }}

{% set engagement_days = 14 %}

with posts as (

    select * from {{ ref('stg_social__post_current') }}
    where is_rankable

),

ranked_at as (

    select now64(6, 'UTC') as at

),

reactions as (

    select
        post_id,
        sum(delta * multiIf(reaction = 'like', 1, reaction = 'save', 4, 5)
            * exp(-dateDiff('second', occurred_at, (select at from ranked_at)) / 86400 / 3))
                                                                    as weighted
    from {{ ref('stg_social__reactions') }}
    where occurred_at >= (select at from ranked_at) - toIntervalDay({{ engagement_days }})
    group by post_id

),

comments as (

    select
        post_id,
        sum(3 * exp(-dateDiff('second', occurred_at, (select at from ranked_at)) / 86400 / 3))
                                                                    as weighted
    from {{ ref('stg_social__comments') }}
    where event_type = 'comment.created'
      and occurred_at >= (select at from ranked_at) - toIntervalDay({{ engagement_days }})
    group by post_id

),

seen as (

    select
        post_id,
        countIf(event_type = 'post_impression')                     as impressions,
        countIf(event_type = 'click')                               as clicks
    from {{ ref('int_behaviour_events_attributed') }}
    where post_id is not null
      and occurred_at >= (select at from ranked_at) - toIntervalDay({{ engagement_days }})
    group by post_id

),

shop_sales as (

    select
        shop_id,
        sumIf(sale_receipts, date >= today() - 30)                  as receipts_30d,
        sum(sale_receipts + online_orders)                          as sales_90d,
        sum(refund_receipts + online_refunded_orders)               as refunds_90d
    from {{ ref('shop_metric_daily') }}
    where date >= today() - 90
    group by shop_id

),

shop_orders as (

    select shop_id, sum(cancelled_orders + expired_orders) as cancelled_90d,
           sum(created_orders) as created_90d
    from {{ ref('order_funnel_daily') }}
    where date >= today() - 90
    group by shop_id

),

shop_moderation as (

    select
        shop_id,
        countIf(moderation_status in ('flagged', 'rejected')) / count() as bad_share
    from {{ ref('stg_social__post_current') }}
    where shop_id is not null
    group by shop_id

),

parts as (

    select
        posts.post_id                                               as post_id,
        posts.shop_id                                               as shop_id,
        posts.created_at                                            as created_at,
        ln(1 + greatest(0, ifNull(reactions.weighted, 0) + ifNull(comments.weighted, 0)))
                                                                    as engagement,
        exp(-greatest(0, dateDiff('second', posts.created_at, (select at from ranked_at)))
            / 3600 / 48)                                            as freshness,
        (ifNull(seen.clicks, 0) + 1) / (ifNull(seen.impressions, 0) + 20) as ctr,
        if(posts.shop_id is null, 0.5,
           0.4 * (ifNull(shop_sales.receipts_30d, 0) > 0)
           + 0.3 * (1 - least(1, (ifNull(shop_sales.refunds_90d, 0)
                                  + ifNull(shop_orders.cancelled_90d, 0))
                                 / greatest(1, ifNull(shop_sales.sales_90d, 0)
                                               + ifNull(shop_orders.created_90d, 0))))
           + 0.3 * (1 - ifNull(shop_moderation.bad_share, 0)))      as seller_quality
    from posts
    left join reactions on reactions.post_id = posts.post_id
    left join comments on comments.post_id = posts.post_id
    left join seen on seen.post_id = posts.post_id
    left join shop_sales on shop_sales.shop_id = posts.shop_id
    left join shop_orders on shop_orders.shop_id = posts.shop_id
    left join shop_moderation on shop_moderation.shop_id = posts.shop_id

)

select
    assumeNotNull(post_id)                                          as post_id,
    shop_id,
    created_at,
    CAST(1.0 * engagement + 2.0 * freshness + 10 * ctr + 1.0 * seller_quality, 'Float64') as score,
    CAST(engagement, 'Float64')                                     as engagement,
    CAST(freshness, 'Float64')                                      as freshness,
    CAST(ctr, 'Float64')                                            as ctr,
    CAST(seller_quality, 'Float64')                                 as seller_quality,
    (select at from ranked_at)                                      as computed_at
from parts
