-- The POS truth: one row per till event the core accepted and applied (core.pos_receipts,
-- deduplicated on event_id by the landing), from the Kafka and the HTTP upload paths.
-- Refused events are in stg_pos__dead_letters; what terminals merely SENT (pos.sales) is
-- never revenue. Money stays exact (Decimal(18, 2) KGS); business_date is the till time's
-- local (Asia/Bishkek) date.

with source as (

    select * from {{ source('core', 'core_pos_receipts') }}

)

select
    event_id,
    receipt_id,
    device_id,
    shop_id,
    merchant_id,
    receipt_number,
    sale_id,
    till_event_type,
    sequence_number,
    out_of_order,
    original_receipt_number,
    length(items)                                           as item_count,
    items,
    {{ money_or_null('gross_amount') }}                     as gross_amount,
    {{ money_or_null('discount_amount') }}                  as discount_amount,
    {{ money_or_null('total') }}                            as total,
    {{ money_or_null('cash_amount') }}                      as cash_amount,
    voided_event_type,
    {{ money_or_null('voided_gross_amount') }}              as voided_gross_amount,
    {{ money_or_null('voided_discount_amount') }}           as voided_discount_amount,
    {{ money_or_null('net_amount') }}                       as net_amount,
    {{ utc('event_time') }}                                 as event_time,
    {{ local_date('event_time') }}                          as business_date,
    {{ utc('received_at') }}                                as received_at,
    {{ utc('occurred_at') }}                                as applied_at,
    source,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
