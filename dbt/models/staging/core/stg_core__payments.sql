-- Payment history: one row per change of a payment (core.payments, deduplicated on
-- event_id): payment.created | payment.succeeded | payment.failed. On payment.succeeded the
-- PSP captured `amount`; the seller bears `acquiring_fee`; `take_rate_amount` is the
-- platform's commission, set only when the payment paid its order (NULL: the order was no
-- longer payable, the money is refunded at once and no payout is made).

with source as (

    select * from {{ source('core', 'core_payments') }}

)

select
    event_id,
    event_type,
    payment_id,
    order_id,
    merchant_id,
    shop_id,
    status,
    {{ money_or_null('amount') }}                           as amount,
    currency,
    provider,
    {{ money_or_null('acquiring_fee') }}                    as acquiring_fee,
    CAST(take_rate, 'Nullable(Decimal(5, 4))')              as take_rate,
    {{ money_or_null('take_rate_amount') }}                 as take_rate_amount,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
