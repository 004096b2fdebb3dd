-- One row per line item of a (deduplicated) sale. Money stays Decimal:
-- unit_price Decimal(12, 2), line_amount = qty * unit_price as Decimal(18, 2).

with sales as (

    select * from {{ ref('stg_pos__sales') }}

)

select
    sale_id,
    line_number,
    shop_id,
    sale_date,
    event_time,
    item.variant_id                                         as variant_id,
    item.barcode                                            as barcode,
    item.qty                                                as qty,
    CAST(item.unit_price, 'Nullable(Decimal(12, 2))')       as unit_price,
    CAST(item.qty * CAST(item.unit_price, 'Nullable(Decimal(18, 2))'),
         'Nullable(Decimal(18, 2))')                        as line_amount

from sales
array join
    items as item,
    arrayEnumerate(items) as line_number
