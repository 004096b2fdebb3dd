-- One row per shop, local day and source surface (map, feed, following, explore, search,
-- profile, ad, other) of what people did around the shop (seed 000 §5, §22): views of the
-- shop, its products and its posts, clicks, add to cart, route builds, chats started,
-- call clicks, saves and shares. Follows have no surface: see shop_follows_daily.
--
-- Incremental (delete+insert by shop and day, every surface of the day together).

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['shop_id', 'date'],
    engine='MergeTree()',
    order_by='(shop_id, date, surface)',
) }}

with events as (

    select * from {{ ref('int_behaviour_events_attributed') }}
    where shop_id is not null
    {% if is_incremental() %}
      and (shop_id, business_date) in (
          select shop_id, business_date from {{ ref('int_behaviour_events_attributed') }}
          where shop_id is not null and _ingested_at > {{ ingested_since() }})
    {% endif %}

)

select
    assumeNotNull(shop_id)                                          as shop_id,
    assumeNotNull(business_date)                                    as date,
    assumeNotNull(surface)                                          as surface,
    countIf(event_type = 'view')                                    as views,
    countIf(event_type = 'view' and target_type = 'shop')           as shop_views,
    countIf(event_type = 'view' and target_type = 'product')        as product_views,
    countIf(event_type in ('view', 'post_impression') and target_type = 'post') as post_views,
    uniqExactIf(viewer_key, event_type in ('view', 'post_impression'))           as visitors,
    countIf(event_type = 'click')                                   as clicks,
    countIf(event_type = 'add_to_cart')                             as add_to_cart,
    countIf(event_type = 'route_built')                             as route_builds,
    countIf(event_type = 'chat_started')                            as chats,
    countIf(event_type = 'call_click')                              as call_clicks,
    countIf(event_type = 'save')                                    as saves,
    countIf(event_type = 'share')                                   as shares,
    CAST(max(_ingested_at), 'DateTime64(6, \'UTC\')')               as _ingested_through
from events
group by shop_id, business_date, surface
