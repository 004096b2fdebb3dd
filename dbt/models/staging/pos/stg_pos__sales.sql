-- One row per POS sale: decoded records only, duplicates (redeliveries) removed by keeping
-- the first delivery, i.e. the lowest (partition, offset). Records without a sale_id cannot
-- be attributed or deduplicated and are left out, like records with a decode_error.
-- Only sales: pos.sales also carries refunds, voids, discounts and cash movements
-- (event_type, schema version 2); version 1 records have no event_type and are all sales.

with source as (

    select * from {{ source('lake', 'pos_sales') }}

),

decoded as (

    select * from source
    where decode_error is null
      and sale_id is not null
      and coalesce(event_type, 'sale') = 'sale'

),

first_delivery as (

    select * from decoded
    order by sale_id, `partition`, `offset`
    limit 1 by sale_id

)

select
    assumeNotNull(sale_id)                                  as sale_id,
    shop_id,
    device_id,
    receipt_number,
    toTimeZone(event_time, 'UTC')                           as event_time,
    toDate(event_time, {{ local_timezone() }})              as sale_date,
    items,
    length(items)                                           as item_count,
    nullIf(sequence_number, 0)                              as sequence_number,
    CAST(discount_amount, 'Nullable(Decimal(12, 2))')       as discount_amount,
    CAST(total, 'Nullable(Decimal(12, 2))')                 as total,
    `partition`                                             as kafka_partition,
    `offset`                                                as kafka_offset,
    toTimeZone(ingested_at, 'UTC')                          as ingested_at

from first_delivery
