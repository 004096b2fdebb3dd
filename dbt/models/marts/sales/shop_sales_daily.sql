-- Daily sales per shop. sale_date is the local (Asia/Bishkek) date of the sale; money is
-- exact: revenue is Decimal(18, 2) KGS, never Float. Keys are non-Nullable (they are the
-- sort key); the not_null tests on stg_pos__sales run before this model in `dbt build`.

{{ config(
    engine='MergeTree()',
    order_by='(shop_id, sale_date)',
) }}

with sales as (

    select
        assumeNotNull(shop_id)                              as shop_id,
        assumeNotNull(sale_date)                            as sale_date,
        count()                                             as receipts,
        max(event_time)                                     as last_sale_at
    from {{ ref('stg_pos__sales') }}
    group by shop_id, sale_date

),

items as (

    select
        assumeNotNull(shop_id)                              as shop_id,
        assumeNotNull(sale_date)                            as sale_date,
        sum(line_amount)                                    as revenue,
        sum(qty)                                            as units
    from {{ ref('stg_pos__sale_items') }}
    group by shop_id, sale_date

)

select
    sales.shop_id                                           as shop_id,
    sales.sale_date                                         as sale_date,
    CAST(ifNull(items.revenue, 0), 'Decimal(18, 2)')        as revenue,
    toUInt64(sales.receipts)                                as receipts,
    toInt64(ifNull(items.units, 0))                         as units,
    CAST(sales.last_sale_at, 'DateTime64(6, \'UTC\')')      as last_sale_at

from sales
left join items
    on items.shop_id = sales.shop_id
   and items.sale_date = sales.sale_date
