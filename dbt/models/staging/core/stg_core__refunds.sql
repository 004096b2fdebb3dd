-- Refund history (core.refunds, deduplicated on event_id): refund.requested, then
-- refund.succeeded when the PSP returned the money. Refunds are full (seed 000 §3.5).
-- reason: requested (the seller or an admin refunded a paid order) | order_not_payable
-- (a payment that arrived after its order expired or was cancelled: no sale, no payout).
-- take_rate_amount: the commission the platform gives back (0 without a payout).

with source as (

    select * from {{ source('core', 'core_refunds') }}

)

select
    event_id,
    event_type,
    refund_id,
    payment_id,
    order_id,
    merchant_id,
    shop_id,
    status,
    reason,
    {{ money_or_null('amount') }}                           as amount,
    currency,
    {{ money_or_null('take_rate_amount') }}                 as take_rate_amount,
    {{ money_or_null('acquiring_fee') }}                    as acquiring_fee,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
