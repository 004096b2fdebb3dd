-- The funnel's paid and refunded orders are the shop metrics' online orders and refunds,
-- count for count and tyiyn for tyiyn.
select
    coalesce(funnel.shop_id, shops.shop_id) as shop_id,
    coalesce(funnel.date, shops.date) as date,
    funnel.paid_orders, shops.online_orders,
    funnel.paid_amount, shops.online_gross,
    funnel.refunded_amount, shops.online_refunds
from {{ ref('order_funnel_daily') }} as funnel
full outer join {{ ref('shop_metric_daily') }} as shops
    on shops.shop_id = funnel.shop_id and shops.date = funnel.date
where ifNull(funnel.paid_orders, 0) != ifNull(shops.online_orders, 0)
   or ifNull(funnel.paid_amount, 0) != ifNull(shops.online_gross, 0)
   or ifNull(funnel.refunded_amount, 0) != ifNull(shops.online_refunds, 0)
