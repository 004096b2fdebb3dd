-- Variant history (core.variants, deduplicated on event_id): every price change and every
-- stock move is an event carrying the variant's state after it. stock_qty at any instant
-- is the stock_qty of the latest event at or before it.

with source as (

    select * from {{ source('core', 'core_variants') }}

)

select
    event_id,
    event_type,
    variant_id,
    product_id,
    shop_id,
    sku,
    barcode,
    {{ money_or_null('price') }}                            as price,
    stock_qty,
    stock_delta,
    reason                                                  as stock_reason,
    is_bundle,
    is_deleted,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
