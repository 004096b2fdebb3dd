-- One row per shop, product and local (Asia/Bishkek) day: how many till receipts and online
-- orders held the product (seed 000 §22 PRODUCT_METRIC_DAILY.orders), each counted once
-- however many of its variants or lines they held, so the counts can't come from
-- product_metric_daily's per-variant rows.
--   receipts       sale receipts rung up that day holding the product, minus the sales
--                  holding it voided that day (the rule of shop_metric_daily.receipts: each
--                  on its own day, so a day can be negative)
--   online_orders  online orders holding the product paid that day (their paid date)
--   online_refunded_orders  those refunded that day (refunds are full)
--
-- Incremental (delete+insert by shop and day), like product_metric_daily.

-- depends_on: {{ ref('stg_core__pos_receipts') }}
-- depends_on: {{ ref('stg_core__orders') }}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['shop_id', 'date'],
    engine='MergeTree()',
    order_by='(shop_id, date, product_id)',
) }}

{% set touched_only %}
    {% if is_incremental() %}
    and (shop_id, business_date) in (select shop_id, business_date from touched)
    {% endif %}
{% endset %}

with

{% if is_incremental() %}
touched as (

    select shop_id, business_date from {{ ref('stg_core__pos_receipts') }}
    where till_event_type in ('sale', 'void') and _ingested_at > {{ ingested_since() }}
    union distinct
    select shop_id, business_date from {{ ref('stg_core__orders') }}
    where event_type in ('order.paid', 'order.refunded')
      and _ingested_at > {{ ingested_since() }}

),
{% endif %}

pos as (

    select
        shop_id,
        business_date,
        product_id,
        toInt64(uniqExactIf(receipt_event_id, effect = 'sale'))
          - toInt64(uniqExactIf(source_receipt_event_id, effect = 'void_of_sale')) as receipts,
        max(_ingested_at)                                                   as ingested_through
    from {{ ref('int_pos_receipt_lines') }}
    where effect in ('sale', 'void_of_sale') {{ touched_only }}
    group by shop_id, business_date, product_id

),

online as (

    select
        shop_id,
        business_date,
        product_id,
        toUInt64(uniqExactIf(order_id, effect = 'paid'))                    as online_orders,
        toUInt64(uniqExactIf(order_id, effect = 'refunded'))                as online_refunded_orders,
        max(_ingested_at)                                                   as ingested_through
    from {{ ref('int_online_order_lines') }}
    where 1 {{ touched_only }}
    group by shop_id, business_date, product_id

),

keys as (

    select shop_id, business_date, product_id from pos
    union distinct
    select shop_id, business_date, product_id from online

)

select
    assumeNotNull(keys.shop_id)                                             as shop_id,
    assumeNotNull(keys.product_id)                                          as product_id,
    assumeNotNull(keys.business_date)                                       as date,
    toInt64(ifNull(pos.receipts, 0))                                        as receipts,
    toUInt64(ifNull(online.online_orders, 0))                               as online_orders,
    toUInt64(ifNull(online.online_refunded_orders, 0))                      as online_refunded_orders,
    CAST(greatest(ifNull(pos.ingested_through, toDateTime64(0, 6, 'UTC')),
                  ifNull(online.ingested_through, toDateTime64(0, 6, 'UTC'))),
         'DateTime64(6, \'UTC\')')                                          as _ingested_through

from keys
left join pos
    on pos.shop_id = keys.shop_id
   and pos.business_date = keys.business_date
   and pos.product_id = keys.product_id
left join online
    on online.shop_id = keys.shop_id
   and online.business_date = keys.business_date
   and online.product_id = keys.product_id
