-- What each applied POS receipt did to each product line, signed, exact to the tyiyn:
--
--   effect          lines of                     units_net   net_amount
--   sale            the sale                     +qty        +(line - discount share)
--   refund          the refund                   -qty        -(line - discount share)
--   void_of_sale    the voided sale (original)   -qty        -(line - discount share)
--   void_of_refund  the voided refund (original) +qty        +(line - discount share)
--
-- A receipt's discount is spread over its lines in proportion to line_amount by the
-- largest-remainder method, in whole tyiyn: every line gets floor(D * a / G); the tyiyn
-- left over go one each to the lines with the largest remainders (ties: lower line_no).
-- So the shares add up to the discount exactly, and 0 <= share <= line. A void reverses
-- the lines of the receipt it voids (found by device and receipt number: the core refuses
-- a void of a receipt it has not applied), not the void's own items, which a till may
-- leave empty. Standalone discount and cash events have no lines (see shop_metric_daily).
-- Rows carry the date, shop and landing time of the EFFECTING receipt (the void's for a
-- void): money lands on the day the till recorded the event.
--
-- Incremental (delete+insert by receipt): a run adds the lines of the receipts landed since
-- its watermark (see the ingested_since macro); receipts are immutable, so re-adding one
-- within the lookback replaces it with the same rows. A void's lines are read from the
-- receipt it voids, whenever that landed.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='receipt_event_id',
    engine='MergeTree()',
    order_by='(shop_id, business_date, receipt_event_id, line_no)',
) }}

with receipts as (

    select * from {{ ref('stg_core__pos_receipts') }}
    where till_event_type in ('sale', 'refund', 'void')
    {% if is_incremental() %}
      and _ingested_at > {{ ingested_since('_ingested_at') }}
    {% endif %}

),

-- the sales and refunds whose lines are needed: the new ones, and those new voids void
with_lines as (

    select * from {{ ref('stg_core__pos_receipts') }}
    where till_event_type in ('sale', 'refund')
      and (event_id in (select event_id from receipts)
           or (device_id, receipt_number) in (
               select device_id, original_receipt_number from receipts
               where till_event_type = 'void'))

),

priced as (

    select
        event_id,
        device_id,
        receipt_number,
        till_event_type,
        items,
        arrayMap(i -> toInt128(ifNull(i.line_amount, 0) * 100), items)  as line_cents,
        toInt128(ifNull(discount_amount, 0) * 100)                      as discount_cents,
        arraySum(line_cents)                                            as gross_cents
    from with_lines

),

allocated as (

    select
        *,
        arrayMap(a -> if(gross_cents = 0, toInt128(0), intDiv(discount_cents * a, gross_cents)),
                 line_cents)                                            as floor_cents,
        arrayMap(a -> if(gross_cents = 0, toInt128(0), (discount_cents * a) % gross_cents),
                 line_cents)                                            as remainders,
        discount_cents - arraySum(floor_cents)                          as leftover_cents,
        arraySort(i -> (-remainders[i], i), arrayEnumerate(line_cents)) as by_remainder,
        arrayMap(i -> floor_cents[i] + if(indexOf(by_remainder, i) <= leftover_cents, 1, 0),
                 arrayEnumerate(line_cents))                            as share_cents
    from priced

),

-- The lines of every sale and refund, with their discount share.
source_lines as (

    select
        event_id                                                        as source_receipt_event_id,
        device_id,
        receipt_number,
        till_event_type                                                 as source_event_type,
        item.line_no                                                    as line_no,
        item.variant_id                                                 as variant_id,
        item.product_id                                                 as product_id,
        toInt64(item.qty)                                               as qty,
        {{ money('item.line_amount') }}                                 as line_amount,
        CAST(toInt64(share), 'Decimal(18, 2)') / 100                   as discount_share
    from allocated
    array join
        items as item,
        share_cents as share

),

effects as (

    -- sales and refunds: their own lines
    select
        receipts.event_id                                               as receipt_event_id,
        receipts.till_event_type                                        as effect,
        source_lines.*
    from receipts
    inner join source_lines
        on source_lines.source_receipt_event_id = receipts.event_id
    where receipts.till_event_type in ('sale', 'refund')

    union all

    -- voids: the lines of the receipt they void
    select
        receipts.event_id                                               as receipt_event_id,
        concat('void_of_', source_lines.source_event_type)              as effect,
        source_lines.*
    from receipts
    inner join source_lines
        on source_lines.device_id = receipts.device_id
       and source_lines.receipt_number = receipts.original_receipt_number
    where receipts.till_event_type = 'void'

)

select
    assumeNotNull(effects.receipt_event_id)                             as receipt_event_id,
    effects.effect                                                      as effect,
    effects.source_receipt_event_id                                     as source_receipt_event_id,
    receipts.device_id                                                  as device_id,
    assumeNotNull(receipts.shop_id)                                     as shop_id,
    receipts.merchant_id                                                as merchant_id,
    assumeNotNull(receipts.business_date)                               as business_date,
    receipts.event_time                                                 as event_time,
    assumeNotNull(effects.line_no)                                      as line_no,
    effects.variant_id                                                  as variant_id,
    effects.product_id                                                  as product_id,
    effects.qty                                                         as qty,
    effects.line_amount                                                 as line_amount,
    effects.discount_share                                              as discount_share,
    multiIf(effect in ('sale', 'void_of_refund'), 1, -1)                as sign,
    if(effect = 'sale', qty, 0)                                         as sold_units,
    if(effect = 'refund', qty, 0)                                       as refunded_units,
    multiIf(effect = 'void_of_sale', qty,
            effect = 'void_of_refund', -qty, 0)                         as voided_units,
    sign * qty                                                          as net_units,
    if(effect = 'sale', line_amount, 0)                                 as sold_gross,
    if(effect = 'sale', discount_share, 0)                              as sold_discount,
    if(effect = 'refund', line_amount - discount_share, 0)              as refund_amount,
    multiIf(effect = 'void_of_sale', line_amount - discount_share,
            effect = 'void_of_refund', discount_share - line_amount, 0) as void_amount,
    CAST(sign * (line_amount - discount_share), 'Decimal(18, 2)')       as net_amount,
    receipts._ingested_at                                               as _ingested_at

from effects
inner join receipts
    on receipts.event_id = effects.receipt_event_id
