-- shop_metric_daily holds every applied receipt's money exactly once: per shop and date,
-- its pos_net is the sum of the receipts' net_amount and its pos_gross the sum of the
-- sales' gross_amount (a missing, doubled or misdated receipt fails this).
with receipts as (
    select
        shop_id,
        business_date as date,
        sum(net_amount) as pos_net,
        sumIf(gross_amount, till_event_type = 'sale') as pos_gross
    from {{ ref('stg_core__pos_receipts') }}
    group by shop_id, business_date
),

mart as (
    select shop_id, date, pos_net, pos_gross, 1 as found
    from {{ ref('shop_metric_daily') }}
)

select receipts.*, mart.pos_net as mart_pos_net, mart.pos_gross as mart_pos_gross
from receipts
left join mart
    on mart.shop_id = receipts.shop_id and mart.date = receipts.date
where mart.found != 1
   or mart.pos_net != receipts.pos_net
   or mart.pos_gross != ifNull(receipts.pos_gross, 0)
