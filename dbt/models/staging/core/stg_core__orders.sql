-- Online order status history: one row per change of an order (core.orders, deduplicated
-- on event_id), the order's state after the change. status_changed_at is the business
-- time of the change (paid_at for order.paid, refunded_at for order.refunded, ...), its
-- local date is business_date. The lines are in stg_core__order_items.

with source as (

    select * from {{ source('core', 'core_orders') }}

)

select
    event_id,
    event_type,
    order_id,
    buyer_id,
    shop_id,
    merchant_id,
    status,
    fulfilment,
    payment_id,
    length(items)                                           as item_count,
    items,
    {{ money_or_null('total') }}                            as total,
    currency,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ utc('created_at') }}                                 as created_at,
    {{ utc('paid_at') }}                                    as paid_at,
    {{ utc('pickup_overdue_at') }}                          as pickup_overdue_at,
    {{ utc('completed_at') }}                               as completed_at,
    {{ utc('cancelled_at') }}                               as cancelled_at,
    {{ utc('expired_at') }}                                 as expired_at,
    {{ utc('refunded_at') }}                                as refunded_at,
    {{ utc('reserved_until') }}                             as reserved_until,
    {{ utc("coalesce(multiIf(
        event_type = 'order.created',        created_at,
        event_type = 'order.paid',           paid_at,
        event_type = 'order.pickup_overdue', pickup_overdue_at,
        event_type = 'order.completed',      completed_at,
        event_type = 'order.cancelled',      cancelled_at,
        event_type = 'order.expired',        expired_at,
        event_type = 'order.refunded',       refunded_at,
        NULL), occurred_at)") }}                            as status_changed_at,
    {{ local_date("coalesce(multiIf(
        event_type = 'order.created',        created_at,
        event_type = 'order.paid',           paid_at,
        event_type = 'order.pickup_overdue', pickup_overdue_at,
        event_type = 'order.completed',      completed_at,
        event_type = 'order.cancelled',      cancelled_at,
        event_type = 'order.expired',        expired_at,
        event_type = 'order.refunded',       refunded_at,
        NULL), occurred_at)") }}                            as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
