-- Per shop and date, the products add up to the shop: till net = the shop's pos_net plus
-- its standalone discounts (which name no product), till units = the shop's units, and
-- online net = the shop's online_net. Exact, in Decimal.
with products as (
    select
        shop_id,
        date,
        sum(pos_net) as pos_net,
        sum(pos_units) as pos_units,
        sum(online_net) as online_net
    from {{ ref('product_metric_daily') }}
    group by shop_id, date
),

shops as (
    select
        shop_id,
        date,
        pos_net + pos_standalone_discounts as pos_net_of_products,
        units,
        online_net
    from {{ ref('shop_metric_daily') }}
)

select shops.*, products.pos_net, products.pos_units, products.online_net
from shops
full outer join products
    on products.shop_id = shops.shop_id and products.date = shops.date
where ifNull(products.pos_net, 0) != ifNull(shops.pos_net_of_products, 0)
   or ifNull(products.pos_units, 0) != ifNull(shops.units, 0)
   or ifNull(products.online_net, 0) != ifNull(shops.online_net, 0)
