-- One row per product, local day and source surface: views, unique visitors, clicks and
-- add to cart (seed 000 §5: product metrics by where people found the product).
--
-- Incremental (delete+insert by product and day, every surface of the day together).

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['product_id', 'date'],
    engine='MergeTree()',
    order_by='(product_id, date, surface)',
) }}

with events as (

    select * from {{ ref('int_behaviour_events_attributed') }}
    where product_id is not null
    {% if is_incremental() %}
      and (product_id, business_date) in (
          select product_id, business_date from {{ ref('int_behaviour_events_attributed') }}
          where product_id is not null and _ingested_at > {{ ingested_since() }})
    {% endif %}

)

select
    assumeNotNull(product_id)                                       as product_id,
    any(shop_id)                                                    as shop_id,
    assumeNotNull(business_date)                                    as date,
    assumeNotNull(surface)                                          as surface,
    countIf(event_type = 'view')                                    as views,
    uniqExactIf(viewer_key, event_type = 'view')                    as visitors,
    countIf(event_type = 'click')                                   as clicks,
    countIf(event_type = 'add_to_cart')                             as add_to_cart,
    countIf(event_type = 'save')                                    as saves,
    countIf(event_type = 'share')                                   as shares,
    CAST(max(_ingested_at), 'DateTime64(6, \'UTC\')')               as _ingested_through
from events
group by product_id, business_date, surface
