-- What online orders did to each product line, signed: the lines of every paid order on
-- its paid date (effect 'paid'), and of every refunded order on its refund date (effect
-- 'refunded'; refunds are full, seed 000 §3.5, so the whole order comes back). Only orders
-- that were paid count: a payment that arrived after its order expired never made the
-- order paid, and its automatic refund never makes it refunded (see
-- payments_reconciliation_daily for that money).
--
-- Incremental (delete+insert by order event): order events are immutable; a run adds the
-- lines of the events landed since its watermark.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_event_id',
    engine='MergeTree()',
    order_by='(shop_id, business_date, order_event_id, line_no)',
) }}

with order_lines as (

    select
        *,
        qty                                                 as ordered_qty,
        line_total                                          as ordered_line_total
    from {{ ref('stg_core__order_items') }}
    where event_type in ('order.paid', 'order.refunded')
    {% if is_incremental() %}
      and _ingested_at > {{ ingested_since('_ingested_at') }}
    {% endif %}

)

select
    assumeNotNull(order_lines.order_event_id)                           as order_event_id,
    if(event_type = 'order.paid', 'paid', 'refunded')                   as effect,
    order_id,
    assumeNotNull(shop_id)                                              as shop_id,
    merchant_id,
    assumeNotNull(business_date)                                        as business_date,
    line_no,
    variant_id,
    product_id,
    toInt64(ordered_qty)                                                as qty,
    {{ money('ordered_line_total') }}                                   as line_total,
    if(effect = 'paid', 1, -1)                                          as sign,
    if(effect = 'paid', qty, 0)                                         as paid_units,
    if(effect = 'refunded', qty, 0)                                     as refunded_units,
    sign * qty                                                          as net_units,
    CAST(if(effect = 'paid', line_total, 0), 'Decimal(18, 2)')          as paid_amount,
    CAST(if(effect = 'refunded', line_total, 0), 'Decimal(18, 2)')      as refunded_amount,
    CAST(sign * line_total, 'Decimal(18, 2)')                           as net_amount,
    order_lines._ingested_at                                            as _ingested_at

from order_lines
