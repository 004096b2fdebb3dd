-- Each online order's latest state (core_orders_current: one row per order_id, kept by the
-- landing's MERGE).

with source as (

    select * from {{ source('core', 'core_orders_current') }}

)

select
    order_id,
    event_id                                                as last_event_id,
    event_type                                              as last_event_type,
    buyer_id,
    shop_id,
    merchant_id,
    status,
    fulfilment,
    payment_id,
    length(items)                                           as item_count,
    {{ money_or_null('total') }}                            as total,
    currency,
    {{ utc('created_at') }}                                 as created_at,
    {{ local_date('created_at') }}                          as created_date,
    {{ utc('paid_at') }}                                    as paid_at,
    {{ utc('pickup_overdue_at') }}                          as pickup_overdue_at,
    {{ utc('completed_at') }}                               as completed_at,
    {{ utc('cancelled_at') }}                               as cancelled_at,
    {{ utc('expired_at') }}                                 as expired_at,
    {{ utc('refunded_at') }}                                as refunded_at,
    {{ utc('occurred_at') }}                                as updated_at,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
