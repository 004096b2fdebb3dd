-- Instant payouts to sellers (core.payouts, deduplicated on event_id): one payout.sent per
-- payment that paid an order, made in the same transaction:
-- amount = gross_amount - take_rate_amount - acquiring_fee.
-- `destination` is masked by the core (provider and last 4 characters only).

with source as (

    select * from {{ source('core', 'core_payouts') }}

)

select
    event_id,
    event_type,
    payout_id,
    payment_id,
    order_id,
    merchant_id,
    shop_id,
    status,
    {{ money_or_null('gross_amount') }}                     as gross_amount,
    {{ money_or_null('take_rate_amount') }}                 as take_rate_amount,
    {{ money_or_null('acquiring_fee') }}                    as acquiring_fee,
    {{ money_or_null('amount') }}                           as amount,
    currency,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
