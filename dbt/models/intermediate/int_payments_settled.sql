-- One row per payment the PSP captured (payment.succeeded), with the payout it produced.
-- A captured payment either paid its order (take_rate_amount set; the seller was paid out
-- at once: payout = amount - take rate - acquiring fee) or arrived after the order stopped
-- being payable (take_rate_amount NULL: no payout, the money is refunded, the platform
-- bears the fee). Dated by the capture's local date; the payout is made in the same
-- transaction, so it belongs to the same day.
--
-- Incremental (delete+insert by payment): a run recomputes the payments whose capture or
-- payout landed since its watermark (a payout may land after its payment).

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='payment_id',
    engine='MergeTree()',
    order_by='(shop_id, business_date, payment_id)',
) }}

with captured as (

    select * from {{ ref('stg_core__payments') }}
    where event_type = 'payment.succeeded'
    {% if is_incremental() %}
      and payment_id in (
          select payment_id from {{ ref('stg_core__payments') }}
          where event_type = 'payment.succeeded'
            and _ingested_at > {{ ingested_since('_ingested_at') }}
          union distinct
          select payment_id from {{ ref('stg_core__payouts') }}
          where _ingested_at > {{ ingested_since('_ingested_at') }})
    {% endif %}

),

payouts as (

    select
        payment_id,
        payout_id,
        gross_amount,
        take_rate_amount,
        acquiring_fee,
        amount,
        _ingested_at,
        1                                                   as has_payout
    from {{ ref('stg_core__payouts') }}
    where payment_id in (select payment_id from captured)

)

select
    assumeNotNull(captured.payment_id)                      as payment_id,
    captured.order_id                                       as order_id,
    assumeNotNull(captured.shop_id)                         as shop_id,
    captured.merchant_id                                    as merchant_id,
    assumeNotNull(captured.business_date)                   as business_date,
    captured.occurred_at                                    as captured_at,
    captured.take_rate_amount is null                       as not_payable,
    {{ money('captured.amount') }}                          as amount,
    {{ money('captured.acquiring_fee') }}                   as acquiring_fee,
    {{ money('captured.take_rate_amount') }}                as take_rate_amount,
    payouts.has_payout = 1                                  as has_payout,
    if(payouts.has_payout = 1, payouts.payout_id, NULL)     as payout_id,
    {{ money('if(payouts.has_payout = 1, payouts.amount, NULL)') }} as payout_amount,
    greatest(captured._ingested_at,
             if(payouts.has_payout = 1, payouts._ingested_at, captured._ingested_at))
                                                            as _ingested_at

from captured
left join payouts
    on payouts.payment_id = captured.payment_id
