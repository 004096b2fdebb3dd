-- One row per shop, product, variant and local (Asia/Bishkek) day: units and money of the
-- variant at the till (applied receipts: sales, refunds, voids, with each receipt's
-- discount spread over its lines to the tyiyn, see int_pos_receipt_lines) and online
-- (paid orders on their paid date, refunded orders on their refund date). Exact:
--   pos_net    = pos_gross - pos_discounts - pos_refunds - pos_voids
--   online_net = online_gross - online_refunds
--   net        = pos_net + online_net
-- Summed over a shop's day, pos_net is the shop's pos_net plus its standalone discounts
-- (a discount event names no product); online_net equals the shop's online_net.
--
-- Incremental (delete+insert by shop and day): a touched shop-day is recomputed whole,
-- every product row of it replaced.

-- depends_on: {{ ref('stg_core__pos_receipts') }}
-- depends_on: {{ ref('stg_core__orders') }}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['shop_id', 'date'],
    engine='MergeTree()',
    order_by='(shop_id, date, product_id, variant_id)',
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
    where till_event_type in ('sale', 'refund', 'void')
      and _ingested_at > {{ ingested_since() }}
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
        variant_id,
        any(merchant_id)                                                    as merchant_id,
        sum(sold_units)                                                     as pos_units_sold,
        sum(refunded_units)                                                 as pos_units_refunded,
        sum(voided_units)                                                   as pos_units_voided,
        sum(net_units)                                                      as pos_units,
        sum(sold_gross)                                                     as pos_gross,
        sum(sold_discount)                                                  as pos_discounts,
        sum(refund_amount)                                                  as pos_refunds,
        sum(void_amount)                                                    as pos_voids,
        sum(net_amount)                                                     as pos_net,
        max(_ingested_at)                                                   as ingested_through
    from {{ ref('int_pos_receipt_lines') }}
    where 1 {{ touched_only }}
    group by shop_id, business_date, product_id, variant_id

),

online as (

    select
        shop_id,
        business_date,
        product_id,
        variant_id,
        any(merchant_id)                                                    as merchant_id,
        sum(paid_units)                                                     as online_units_sold,
        sum(refunded_units)                                                 as online_units_refunded,
        sum(net_units)                                                      as online_units,
        sum(paid_amount)                                                    as online_gross,
        sum(refunded_amount)                                                as online_refunds,
        sum(net_amount)                                                     as online_net,
        max(_ingested_at)                                                   as ingested_through
    from {{ ref('int_online_order_lines') }}
    where 1 {{ touched_only }}
    group by shop_id, business_date, product_id, variant_id

),

keys as (

    select shop_id, business_date, product_id, variant_id from pos
    union distinct
    select shop_id, business_date, product_id, variant_id from online

),

joined as (

    select
        assumeNotNull(keys.shop_id)                                         as shop_id,
        assumeNotNull(keys.product_id)                                      as product_id,
        assumeNotNull(keys.variant_id)                                      as variant_id,
        assumeNotNull(keys.business_date)                                   as date,
        ifNull(coalesce(nullIf(pos.merchant_id, ''),
                        nullIf(online.merchant_id, '')), '')                as merchant_id,
        toInt64(ifNull(pos.pos_units_sold, 0))                              as pos_units_sold,
        toInt64(ifNull(pos.pos_units_refunded, 0))                          as pos_units_refunded,
        toInt64(ifNull(pos.pos_units_voided, 0))                            as pos_units_voided,
        toInt64(ifNull(pos.pos_units, 0))                                   as pos_units,
        {{ money('pos.pos_gross') }}                                        as pos_gross,
        {{ money('pos.pos_discounts') }}                                    as pos_discounts,
        {{ money('pos.pos_refunds') }}                                      as pos_refunds,
        {{ money('pos.pos_voids') }}                                        as pos_voids,
        {{ money('pos.pos_net') }}                                          as pos_net,
        toInt64(ifNull(online.online_units_sold, 0))                        as online_units_sold,
        toInt64(ifNull(online.online_units_refunded, 0))                    as online_units_refunded,
        toInt64(ifNull(online.online_units, 0))                             as online_units,
        {{ money('online.online_gross') }}                                  as online_gross,
        {{ money('online.online_refunds') }}                                as online_refunds,
        {{ money('online.online_net') }}                                    as online_net,
        greatest(ifNull(pos.ingested_through, toDateTime64(0, 6, 'UTC')),
                 ifNull(online.ingested_through, toDateTime64(0, 6, 'UTC'))) as ingested_through
    from keys
    left join pos
        on pos.shop_id = keys.shop_id
       and pos.business_date = keys.business_date
       and pos.product_id = keys.product_id
       and pos.variant_id = keys.variant_id
    left join online
        on online.shop_id = keys.shop_id
       and online.business_date = keys.business_date
       and online.product_id = keys.product_id
       and online.variant_id = keys.variant_id

)

select
    shop_id,
    product_id,
    variant_id,
    date,
    merchant_id,
    pos_units_sold,
    pos_units_refunded,
    pos_units_voided,
    pos_units,
    pos_gross,
    pos_discounts,
    pos_refunds,
    pos_voids,
    pos_net,
    online_units_sold,
    online_units_refunded,
    online_units,
    online_gross,
    online_refunds,
    online_net,
    pos_units + online_units                                                as units,
    CAST(pos_net + online_net, 'Decimal(18, 2)')                            as net,
    CAST(ingested_through, 'DateTime64(6, \'UTC\')')                        as _ingested_through

from joined
