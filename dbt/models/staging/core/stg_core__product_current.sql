-- Each product's latest state (core_products_current: one row per product_id): which shop
-- and category it belongs to, so behavioural events on a product reach its shop.

with source as (

    select * from {{ source('core', 'core_products_current') }}

)

select
    product_id,
    shop_id,
    merchant_id,
    category_id,
    name_ru,
    is_bundle,
    event_type                                              as last_event_type,
    {{ utc('occurred_at') }}                                as updated_at,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
