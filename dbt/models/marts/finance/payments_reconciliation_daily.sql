-- One row per shop (and its merchant) and local (Asia/Bishkek) day: the online money as
-- the PSP, the platform and the seller see it, KGS Decimal(18, 2), to the tyiyn.
--
-- Payments that paid an order, on their capture date:
--   captured_amount - acquiring_fee - take_rate_amount = payout_amount   (dbt test)
-- (the seller bears the PSP's acquiring fee, seed 000 §3.5; the payout is instant, made in
-- the capture's transaction). Payments that arrived after their order stopped being
-- payable are kept apart (not_payable_*): no payout, refunded at once, the platform bears
-- their fee. Refunds count on the day the PSP returned the money (refund.succeeded):
-- refund_amount for refunds of paid orders (the platform gives its take rate back:
-- take_rate_returned), not_payable_refund_amount for the automatic ones.
--
-- Incremental (delete+insert by shop and day), like shop_metric_daily.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['shop_id', 'date'],
    engine='MergeTree()',
    order_by='(shop_id, date)',
) }}

{% set touched_only %}
    {% if is_incremental() %}
    and (shop_id, business_date) in (select shop_id, business_date from touched)
    {% endif %}
{% endset %}

with

{% if is_incremental() %}
touched as (

    select shop_id, business_date from {{ ref('int_payments_settled') }}
    where _ingested_at > {{ ingested_since() }}
    union distinct
    select shop_id, business_date from {{ ref('stg_core__refunds') }}
    where event_type = 'refund.succeeded'
      and _ingested_at > {{ ingested_since() }}

),
{% endif %}

captures as (

    select
        shop_id,
        business_date,
        any(merchant_id)                                                    as merchant_id,
        countIf(not not_payable)                                            as payments_captured,
        sumIf(amount, not not_payable)                                      as captured_amount,
        sumIf(acquiring_fee, not not_payable)                               as seller_acquiring_fee,
        sumIf(take_rate_amount, not not_payable)                            as seller_take_rate_amount,
        countIf(has_payout)                                                 as payouts,
        sum(payout_amount)                                                  as paid_out_amount,
        countIf(not_payable)                                                as not_payable_payments,
        sumIf(amount, not_payable)                                          as not_payable_amount,
        sumIf(acquiring_fee, not_payable)                                   as not_payable_acquiring_fee,
        max(_ingested_at)                                                   as ingested_through
    from {{ ref('int_payments_settled') }}
    where 1 {{ touched_only }}
    group by shop_id, business_date

),

refunds as (

    select
        shop_id,
        business_date,
        any(merchant_id)                                                    as merchant_id,
        countIf(reason != 'order_not_payable')                              as seller_refunds,
        sumIf(amount, reason != 'order_not_payable')                        as refund_amount,
        sumIf(take_rate_amount, reason != 'order_not_payable')              as take_rate_returned,
        countIf(reason = 'order_not_payable')                               as not_payable_refunds,
        sumIf(amount, reason = 'order_not_payable')                         as not_payable_refund_amount,
        max(_ingested_at)                                                   as ingested_through
    from (
        select * from {{ ref('stg_core__refunds') }}
        where event_type = 'refund.succeeded'
        order by refund_id, occurred_at, event_id
        limit 1 by refund_id
    )
    where 1 {{ touched_only }}
    group by shop_id, business_date

),

shop_days as (

    select shop_id, business_date from captures
    union distinct
    select shop_id, business_date from refunds

)

select
    assumeNotNull(shop_days.shop_id)                                        as shop_id,
    assumeNotNull(shop_days.business_date)                                  as date,
    ifNull(coalesce(nullIf(captures.merchant_id, ''),
                    nullIf(refunds.merchant_id, '')), '')                   as merchant_id,
    toUInt64(ifNull(captures.payments_captured, 0))                         as payments_captured,
    {{ money('captures.captured_amount') }}                                 as captured_amount,
    {{ money('captures.seller_acquiring_fee') }}                            as acquiring_fee,
    {{ money('captures.seller_take_rate_amount') }}                         as take_rate_amount,
    toUInt64(ifNull(captures.payouts, 0))                                   as payouts,
    {{ money('captures.paid_out_amount') }}                                 as payout_amount,
    toUInt64(ifNull(captures.not_payable_payments, 0))                      as not_payable_payments,
    {{ money('captures.not_payable_amount') }}                              as not_payable_amount,
    {{ money('captures.not_payable_acquiring_fee') }}                       as not_payable_acquiring_fee,
    toUInt64(ifNull(refunds.seller_refunds, 0))                             as refunds,
    {{ money('refunds.refund_amount') }}                                    as refund_amount,
    {{ money('refunds.take_rate_returned') }}                               as take_rate_returned,
    toUInt64(ifNull(refunds.not_payable_refunds, 0))                        as not_payable_refunds,
    {{ money('refunds.not_payable_refund_amount') }}                        as not_payable_refund_amount,
    CAST(greatest(ifNull(captures.ingested_through, toDateTime64(0, 6, 'UTC')),
                  ifNull(refunds.ingested_through, toDateTime64(0, 6, 'UTC'))),
         'DateTime64(6, \'UTC\')')                                          as _ingested_through

from shop_days
left join captures
    on captures.shop_id = shop_days.shop_id
   and captures.business_date = shop_days.business_date
left join refunds
    on refunds.shop_id = shop_days.shop_id
   and refunds.business_date = shop_days.business_date
