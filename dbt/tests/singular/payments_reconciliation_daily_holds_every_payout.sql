-- Every instant payout in the lake is in payments_reconciliation_daily, once: the mart's
-- payouts add up to the payout events, per shop.
{{ config(severity='warn') }}  -- core.payouts and core.payments land independently

with events as (
    select shop_id, count() as payouts, sum(amount) as payout_amount
    from {{ ref('stg_core__payouts') }}
    group by shop_id
),

mart as (
    select shop_id, sum(payouts) as payouts, sum(payout_amount) as payout_amount
    from {{ ref('payments_reconciliation_daily') }}
    group by shop_id
)

select events.*, mart.payouts as mart_payouts, mart.payout_amount as mart_payout_amount
from events
full outer join mart on mart.shop_id = events.shop_id
where ifNull(events.payouts, 0) != ifNull(mart.payouts, 0)
   or ifNull(events.payout_amount, 0) != ifNull(mart.payout_amount, 0)
