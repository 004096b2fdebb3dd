-- One row per shop, metric (revenue, visits) and local (Asia/Bishkek) day: the day's figure
-- against the shop's own recent history, and whether it is a sharp drop or rise (seed 000
-- §25.3 "аномалия (резкий спад/рост)"; the serving API's insights report, later the
-- notifications).
--
--   value        revenue: shop_metric_daily.net (till + online, KGS);
--                visits: shop_engagement_daily.visitors summed over the surfaces
--   baseline     mean of the `window` days before (default 28; d-28 … d-1). A day without
--                a row is a real zero (a closed or silent shop): every shop gets every day
--                from its first row to the newest day of any shop (never past today)
--   signal       'drop'  value <= baseline × (100 - drop_pct) / 100   (default 50 % below)
--                'rise'  value >= baseline × (100 + rise_pct) / 100   (default 100 % above)
--                ''      otherwise, or when the history is too thin to judge: fewer than
--                `window` days before it, fewer than `min_active_days` (14) of them with a
--                non-zero figure, or a baseline under the minimum (500.00 KGS, 10 visits
--                a day), where a few sales or visits more or less are noise
-- Compared exactly, in Decimal: value × window × 100 against the window's sum × (100 ∓ pct),
-- so no rounded mean decides; baseline and change_pct are then rounded half up to 2 places.
-- A drop that lasts is flagged every day it lasts (the notifier sends the first).
--
-- A plain table rebuilt every refresh, not incremental: a day's verdict depends on the 28
-- days before it and on days that have no row at all (a shop that went silent), which no
-- "rows landed since" key can see. Its inputs are shop-day marts, so the rebuild is small.
-- Every row is kept (signal '' included), so the rule can be audited on any day.

{% set window = var('insight_window_days', 28) | int %}
{% set min_active_days = var('insight_min_active_days', 14) | int %}
{% set drop_pct = var('insight_drop_pct', 50) | int %}
{% set rise_pct = var('insight_rise_pct', 100) | int %}
{% set min_baseline = {'revenue': var('insight_min_revenue_baseline', 500) | int,
                       'visits': var('insight_min_visits_baseline', 10) | int} %}

{{ config(materialized='table', engine='MergeTree()', order_by='(shop_id, date, metric)') }}

with

daily as (

    select
        'revenue'                                                           as metric,
        shop_id,
        date,
        CAST(net, 'Decimal(38, 2)')                                         as value,
        _ingested_through
    from {{ ref('shop_metric_daily') }}

    union all

    select
        'visits'                                                            as metric,
        shop_id,
        date,
        CAST(sum(visitors), 'Decimal(38, 2)')                               as value,
        max(_ingested_through)                                              as _ingested_through
    from {{ ref('shop_engagement_daily') }}
    group by shop_id, date

),

newest as (

    select least(max(date), toDate(now(), {{ local_timezone() }})) as day from daily

),

calendar as (

    select
        metric,
        shop_id,
        addDays(first_day, arrayJoin(range(toUInt32(
            greatest(dateDiff('day', first_day, (select day from newest)) + 1, 0)))))
                                                                            as date
    from (select metric, shop_id, min(date) as first_day from daily group by metric, shop_id)

),

dense as (

    select
        calendar.metric                                                     as metric,
        calendar.shop_id                                                    as shop_id,
        calendar.date                                                       as date,
        CAST(ifNull(daily.value, 0), 'Decimal(38, 2)')                      as value,
        daily._ingested_through                                             as ingested_through
    from calendar
    left join daily
        on daily.metric = calendar.metric
       and daily.shop_id = calendar.shop_id
       and daily.date = calendar.date

),

windowed as (

    select
        *,
        CAST(sum(value) over w, 'Decimal(38, 2)')                           as window_sum,
        toUInt32(count() over w)                                            as baseline_days,
        toUInt32(sum(toUInt32(value != 0)) over w)                          as active_days,
        max(ingested_through) over (partition by metric, shop_id order by date
                                    rows between unbounded preceding and current row)
                                                                            as ingested_through_so_far
    from dense
    window w as (partition by metric, shop_id order by date
                 rows between {{ window }} preceding and 1 preceding)

),

judged as (

    select
        *,
        baseline_days = {{ window }}
          and active_days >= {{ min_active_days }}
          and window_sum >= multiIf(
              {%- for metric, minimum in min_baseline.items() %}
              metric = '{{ metric }}', {{ minimum * window }},
              {%- endfor %}
              0)                                                            as is_judged
    from windowed

)

select
    assumeNotNull(shop_id)                                                  as shop_id,
    assumeNotNull(date)                                                     as date,
    metric,
    CAST(value, 'Decimal(18, 2)')                                           as value,
    CAST(if(baseline_days = {{ window }},
            round(CAST(window_sum, 'Decimal(38, 6)') / {{ window }}, 2), NULL),
         'Nullable(Decimal(18, 2))')                                        as baseline,
    CAST(if(baseline_days = {{ window }} and window_sum != 0,
            round(CAST(value * {{ window }} - window_sum, 'Decimal(38, 6)') * 100
                  / abs(window_sum), 2), NULL),
         'Nullable(Decimal(18, 2))')                                        as change_pct,
    baseline_days,
    active_days,
    multiIf(not is_judged, '',
            value * {{ window * 100 }} <= window_sum * {{ 100 - drop_pct }}, 'drop',
            value * {{ window * 100 }} >= window_sum * {{ 100 + rise_pct }}, 'rise',
            '')                                                             as signal,
    CAST(ingested_through_so_far, 'DateTime64(6, \'UTC\')')                 as _ingested_through

from judged
