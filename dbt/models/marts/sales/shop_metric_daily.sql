-- One row per shop and local (Asia/Bishkek) day: the till's money from the receipts the
-- core APPLIED (core.pos_receipts: voids, refunds and discounts counted, refused events
-- never), and the shop's online orders. Exact: Decimal(18, 2) KGS throughout, and
--   pos_net    = pos_gross - pos_discounts - pos_refunds - pos_voids
--   online_net = online_gross - online_refunds
--   net        = pos_net + online_net
-- (dbt tests check all three on every row). Every amount lands on the day its event
-- happened: a refund or a void on the day it was rung up, a paid order on its paid date,
-- a refunded order on its refund date.
--
-- Incremental (delete+insert by shop and day): a run recomputes, from all of their
-- events, the shop-days touched by rows landed since the mart's watermark (see the
-- ingested_since macro), so late events (a terminal's offline backlog) land exactly once.

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

    select shop_id, business_date from {{ ref('stg_core__pos_receipts') }}
    where _ingested_at > {{ ingested_since() }}
    union distinct
    select shop_id, business_date from {{ ref('stg_core__orders') }}
    where event_type in ('order.paid', 'order.refunded')
      and _ingested_at > {{ ingested_since() }}

),
{% endif %}

receipts as (

    select * from {{ ref('stg_core__pos_receipts') }}
    where 1 {{ touched_only }}

),

pos_money as (

    select
        shop_id,
        business_date,
        any(merchant_id)                                                    as merchant_id,
        sumIf(gross_amount, till_event_type = 'sale')                       as pos_gross,
        sumIf(discount_amount, till_event_type = 'sale')                    as pos_receipt_discounts,
        sumIf(discount_amount, till_event_type = 'discount')                as pos_standalone_discounts,
        sumIf(gross_amount - discount_amount, till_event_type = 'refund')   as pos_refunds,
        -sumIf(net_amount, till_event_type = 'void')                        as pos_voids,
        sum(net_amount)                                                     as pos_net,
        sumIf(cash_amount, till_event_type = 'cash_in')                     as pos_cash_in,
        sumIf(cash_amount, till_event_type = 'cash_out')                    as pos_cash_out,
        countIf(till_event_type = 'sale')                                   as sale_receipts,
        countIf(till_event_type = 'refund')                                 as refund_receipts,
        countIf(till_event_type = 'void')                                   as void_receipts,
        countIf(till_event_type = 'void' and voided_event_type = 'sale')    as voided_sale_receipts,
        ifNull(sumIf(gross_amount - discount_amount, till_event_type = 'sale'), 0)
          - ifNull(sumIf(voided_gross_amount - voided_discount_amount,
                         till_event_type = 'void' and voided_event_type = 'sale'), 0)
                                                                            as pos_sales_amount,
        max(_ingested_at)                                                   as ingested_through
    from receipts
    group by shop_id, business_date

),

pos_units as (

    select
        shop_id,
        business_date,
        sum(net_units)                                                      as units,
        sum(sold_units)                                                     as units_sold,
        sum(refunded_units)                                                 as units_refunded,
        sum(voided_units)                                                   as units_voided
    from {{ ref('int_pos_receipt_lines') }}
    where 1 {{ touched_only }}
    group by shop_id, business_date

),

online_money as (

    select
        shop_id,
        business_date,
        any(merchant_id)                                                    as merchant_id,
        countIf(event_type = 'order.paid')                                  as online_orders,
        sumIf(total, event_type = 'order.paid')                             as online_gross,
        countIf(event_type = 'order.refunded')                              as online_refunded_orders,
        sumIf(total, event_type = 'order.refunded')                         as online_refunds,
        max(_ingested_at)                                                   as ingested_through
    from {{ ref('stg_core__orders') }}
    where event_type in ('order.paid', 'order.refunded') {{ touched_only }}
    group by shop_id, business_date

),

online_units as (

    select
        shop_id,
        business_date,
        sum(net_units)                                                      as online_units
    from {{ ref('int_online_order_lines') }}
    where 1 {{ touched_only }}
    group by shop_id, business_date

),

shop_days as (

    select shop_id, business_date from pos_money
    union distinct
    select shop_id, business_date from online_money

),

joined as (

    select
        assumeNotNull(shop_days.shop_id)                                    as shop_id,
        assumeNotNull(shop_days.business_date)                              as date,
        ifNull(coalesce(nullIf(pos_money.merchant_id, ''),
                        nullIf(online_money.merchant_id, '')), '')          as merchant_id,
        {{ money('pos_money.pos_gross') }}                                  as pos_gross,
        {{ money('pos_money.pos_receipt_discounts') }}                      as pos_receipt_discounts,
        {{ money('pos_money.pos_standalone_discounts') }}                   as pos_standalone_discounts,
        {{ money('pos_money.pos_refunds') }}                                as pos_refunds,
        {{ money('pos_money.pos_voids') }}                                  as pos_voids,
        {{ money('pos_money.pos_net') }}                                    as pos_net,
        {{ money('pos_money.pos_cash_in') }}                                as pos_cash_in,
        {{ money('pos_money.pos_cash_out') }}                               as pos_cash_out,
        toUInt64(ifNull(pos_money.sale_receipts, 0))                        as sale_receipts,
        toUInt64(ifNull(pos_money.refund_receipts, 0))                      as refund_receipts,
        toUInt64(ifNull(pos_money.void_receipts, 0))                        as void_receipts,
        toInt64(ifNull(pos_money.sale_receipts, 0))
          - toInt64(ifNull(pos_money.voided_sale_receipts, 0))              as receipts,
        {{ money('pos_money.pos_sales_amount') }}                           as pos_sales_amount,
        toInt64(ifNull(pos_units.units, 0))                                 as units,
        toInt64(ifNull(pos_units.units_sold, 0))                            as units_sold,
        toInt64(ifNull(pos_units.units_refunded, 0))                        as units_refunded,
        toInt64(ifNull(pos_units.units_voided, 0))                          as units_voided,
        toUInt64(ifNull(online_money.online_orders, 0))                     as online_orders,
        {{ money('online_money.online_gross') }}                            as online_gross,
        toUInt64(ifNull(online_money.online_refunded_orders, 0))            as online_refunded_orders,
        {{ money('online_money.online_refunds') }}                          as online_refunds,
        toInt64(ifNull(online_units.online_units, 0))                       as online_units,
        greatest(ifNull(pos_money.ingested_through, toDateTime64(0, 6, 'UTC')),
                 ifNull(online_money.ingested_through, toDateTime64(0, 6, 'UTC')))
                                                                            as ingested_through
    from shop_days
    left join pos_money
        on pos_money.shop_id = shop_days.shop_id
       and pos_money.business_date = shop_days.business_date
    left join pos_units
        on pos_units.shop_id = shop_days.shop_id
       and pos_units.business_date = shop_days.business_date
    left join online_money
        on online_money.shop_id = shop_days.shop_id
       and online_money.business_date = shop_days.business_date
    left join online_units
        on online_units.shop_id = shop_days.shop_id
       and online_units.business_date = shop_days.business_date

)

select
    shop_id,
    date,
    merchant_id,
    pos_gross,
    CAST(pos_receipt_discounts + pos_standalone_discounts, 'Decimal(18, 2)') as pos_discounts,
    pos_receipt_discounts,
    pos_standalone_discounts,
    pos_refunds,
    pos_voids,
    pos_net,
    pos_cash_in,
    pos_cash_out,
    receipts,
    sale_receipts,
    refund_receipts,
    void_receipts,
    units,
    units_sold,
    units_refunded,
    units_voided,
    pos_sales_amount,
    CAST(if(receipts > 0,
            round(CAST(pos_sales_amount, 'Decimal(38, 6)') / receipts, 2),
            NULL), 'Nullable(Decimal(18, 2))')                              as avg_receipt,
    online_orders,
    online_gross,
    online_refunded_orders,
    online_refunds,
    CAST(online_gross - online_refunds, 'Decimal(18, 2)')                   as online_net,
    online_units,
    CAST(pos_net + online_gross - online_refunds, 'Decimal(18, 2)')         as net,
    CAST(ingested_through, 'DateTime64(6, \'UTC\')')                        as _ingested_through

from joined
