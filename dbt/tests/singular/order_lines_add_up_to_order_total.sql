-- Every order event's lines add up to its total (KGS, exact): online revenue per product
-- (product_metric_daily) then adds up to online revenue per shop (shop_metric_daily).
select
    orders.event_id,
    orders.total,
    lines.lines_total
from {{ ref('stg_core__orders') }} as orders
left join (
    select order_event_id, sum(line_total) as lines_total, 1 as found
    from {{ ref('stg_core__order_items') }}
    group by order_event_id
) as lines
    on lines.order_event_id = orders.event_id
where orders.total != if(lines.found = 1, lines.lines_total, 0)
