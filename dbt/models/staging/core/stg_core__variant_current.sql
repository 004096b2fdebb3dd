-- Each variant's latest state (core_variants_current: one row per variant_id): the
-- platform's stock and price now.

with source as (

    select * from {{ source('core', 'core_variants_current') }}

)

select
    variant_id,
    product_id,
    shop_id,
    sku,
    barcode,
    {{ money_or_null('price') }}                            as price,
    stock_qty,
    is_bundle,
    is_deleted,
    event_type                                              as last_event_type,
    {{ utc('occurred_at') }}                                as updated_at,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
