-- One row per line of an order as carried by each order event (the lines do not change
-- after the order is placed; every event repeats them). Intermediate models pick the
-- events they need (order.paid, order.refunded).

with orders as (

    select * from {{ ref('stg_core__orders') }}

)

select
    orders.event_id                                         as order_event_id,
    orders.event_type                                       as event_type,
    orders.order_id                                         as order_id,
    orders.shop_id                                          as shop_id,
    orders.merchant_id                                      as merchant_id,
    orders.business_date                                    as business_date,
    line_no,
    item.variant_id                                         as variant_id,
    item.product_id                                         as product_id,
    item.sku                                                as sku,
    item.qty                                                as qty,
    {{ money_or_null('item.unit_price') }}                  as unit_price,
    {{ money_or_null('item.line_total') }}                  as line_total,
    orders._ingested_at                                     as _ingested_at

from orders
array join
    orders.items as item,
    arrayEnumerate(orders.items) as line_no
