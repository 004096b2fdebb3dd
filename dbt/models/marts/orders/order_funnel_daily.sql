-- One row per shop and local (Asia/Bishkek) day: how many online orders reached each
-- status that day, and their totals (KGS, Decimal(18, 2)). Each order counts once per
-- status, on the local date of that status change (created_at, paid_at, completed_at...),
-- so a day's figures are "what happened that day", not a cohort of the day's orders.
-- paid_amount equals shop_metric_daily.online_gross and refunded_amount its online_refunds.
--
-- Incremental (delete+insert by shop and day), like shop_metric_daily.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['shop_id', 'date'],
    engine='MergeTree()',
    order_by='(shop_id, date)',
) }}

{% set statuses = ['created', 'paid', 'pickup_overdue', 'completed', 'cancelled', 'expired', 'refunded'] %}

with

{% if is_incremental() %}
touched as (

    select shop_id, business_date from {{ ref('stg_core__orders') }}
    where _ingested_at > {{ ingested_since() }}

),
{% endif %}

-- one row per order and status (the first event of it, should the core ever repeat one)
status_changes as (

    select * from {{ ref('stg_core__orders') }}
    where event_type in (
        {%- for s in statuses %}'order.{{ s }}'{{ ', ' if not loop.last }}{% endfor -%}
    )
    {% if is_incremental() %}
      and (shop_id, business_date) in (select shop_id, business_date from touched)
    {% endif %}
    order by order_id, event_type, status_changed_at, event_id
    limit 1 by order_id, event_type

)

select
    assumeNotNull(shop_id)                                                  as shop_id,
    assumeNotNull(business_date)                                            as date,
    ifNull(any(merchant_id), '')                                            as merchant_id,
    {%- for s in statuses %}
    toUInt64(countIf(event_type = 'order.{{ s }}'))                         as {{ s }}_orders,
    {{ money("sumIf(total, event_type = 'order." ~ s ~ "')") }}             as {{ s }}_amount,
    {%- endfor %}
    CAST(max(_ingested_at), 'DateTime64(6, \'UTC\')')                       as _ingested_through

from status_changes
group by shop_id, business_date
