-- One row per line of an applied till receipt (sales and refunds carry items; a void may
-- repeat the voided receipt's items, cash and standalone discount events have none).
-- line_amount = qty * unit_price as the core stored it, Decimal(18, 2) KGS.

with receipts as (

    select * from {{ ref('stg_core__pos_receipts') }}

)

select
    receipts.event_id                                       as receipt_event_id,
    receipts.receipt_id                                     as receipt_id,
    receipts.device_id                                      as device_id,
    receipts.shop_id                                        as shop_id,
    receipts.receipt_number                                 as receipt_number,
    receipts.till_event_type                                as till_event_type,
    receipts.business_date                                  as business_date,
    item.line_no                                            as line_no,
    item.variant_id                                         as variant_id,
    item.product_id                                         as product_id,
    item.qty                                                as qty,
    {{ money_or_null('item.unit_price') }}                  as unit_price,
    {{ money_or_null('item.line_amount') }}                 as line_amount,
    receipts._ingested_at                                   as _ingested_at

from receipts
array join receipts.items as item
