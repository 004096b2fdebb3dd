-- The A/B tests' readout (issue 12 §4): one row per experiment and arm.
--
--   exposed units   = distinct units (account pseudonym or guest session) with at least
--                     one exposure under the arm (stg_experiments__exposures); a unit's
--                     first exposure is the earliest of its copies.
--   converted units = exposed units with a conversion event after their first exposure:
--                     a `click` or `add_to_cart` behaviour event (stg_analytics__events)
--                     on the experiment's surface (the exposure's `surface`: `explore`
--                     for explore_ranking_v2), by the same unit (the account's pseudonym;
--                     a guest session's events by session_id), at or after the first
--                     exposure, until the build.
--   conversion rate = converted / exposed, with its 95 % Wilson score interval
--                     (center ± half) / (1 + z²/n), center = p + z²/2n,
--                     half = z·sqrt(p(1-p)/n + z²/4n²), z = 1.959964.
--   vs control      = rate − the control arm's rate, 95 % CI by the normal approximation
--                     diff ± z·sqrt(p(1-p)/n + p0(1-p0)/n0); NULL on the control's own row
--                     and where the experiment has no control exposure.
--
-- A unit exposed under two arms (a changed declaration: never change a running
-- experiment's salt or arms) counts in both; `experiment_units` (distinct units over all
-- arms) then falls below the sum of exposed_units, which the notebook checks.

{{ config(materialized='table', engine='MergeTree()', order_by='(experiment_key, arm)') }}

{% set z = 1.959963984540054 %}
{% set conversion_events = "('click', 'add_to_cart')" %}

with exposures as (

    select
        experiment_key,
        arm,
        unit_type,
        assumeNotNull(unit_id)                                      as unit_id,
        argMin(surface, occurred_at)                                as surface,
        min(occurred_at)                                            as first_at,
        max(_ingested_at)                                           as ingested_at
    from {{ ref('stg_experiments__exposures') }}
    where unit_id is not null
    group by experiment_key, arm, unit_type, unit_id

),

unit_events as (

    -- the conversion events keyed as the units are: by pseudonym and by session
    select 'user' as unit_type, assumeNotNull(user_pseudo_id) as unit_id, surface, occurred_at
    from {{ ref('stg_analytics__events') }}
    where event_type in {{ conversion_events }} and user_pseudo_id is not null
    union all
    select 'session' as unit_type, session_id as unit_id, surface, occurred_at
    from {{ ref('stg_analytics__events') }}
    where event_type in {{ conversion_events }}

),

converted as (

    select distinct
        exposures.experiment_key                                    as experiment_key,
        exposures.arm                                               as arm,
        exposures.unit_type                                         as unit_type,
        exposures.unit_id                                           as unit_id
    from exposures
    inner join unit_events
        on unit_events.unit_type = exposures.unit_type
       and unit_events.unit_id = exposures.unit_id
       and unit_events.surface = exposures.surface
    where unit_events.occurred_at >= exposures.first_at

),

per_arm as (

    select
        experiment_key,
        arm,
        count()                                                     as exposed_units,
        countIf((experiment_key, arm, unit_type, unit_id) in (select * from converted))
                                                                    as converted_units,
        min(first_at)                                               as first_exposed_at,
        max(first_at)                                               as last_first_exposed_at,
        max(ingested_at)                                            as _ingested_through
    from exposures
    group by experiment_key, arm

),

per_experiment as (

    select experiment_key, uniqExact(unit_type, unit_id) as experiment_units
    from exposures
    group by experiment_key

),

rates as (

    select
        per_arm.*,
        per_experiment.experiment_units                             as experiment_units,
        converted_units / exposed_units                             as p,
        max(if(arm = 'control', toNullable(converted_units / exposed_units), NULL))
            over (partition by experiment_key)                      as p0,
        max(if(arm = 'control', toNullable(exposed_units), NULL))
            over (partition by experiment_key)                      as n0
    from per_arm
    inner join per_experiment on per_experiment.experiment_key = per_arm.experiment_key

)

select
    assumeNotNull(experiment_key)                                   as experiment_key,
    assumeNotNull(arm)                                              as arm,
    CAST(arm = 'control', 'Bool')                                   as is_control,
    toUInt64(exposed_units)                                         as exposed_units,
    toUInt64(converted_units)                                       as converted_units,
    toUInt64(experiment_units)                                      as experiment_units,
    CAST(p, 'Float64')                                              as conversion_rate,
    -- The Wilson interval holds p; at p = 0 or 1 the float arithmetic can land a hair
    -- past it (1e-17 above 0), so the bounds are clamped to p and to [0, 1].
    CAST(least(p, greatest(0, (p + {{ z }} * {{ z }} / (2 * exposed_units)
          - {{ z }} * sqrt(p * (1 - p) / exposed_units
                           + {{ z }} * {{ z }} / (4 * exposed_units * exposed_units)))
         / (1 + {{ z }} * {{ z }} / exposed_units))), 'Float64')    as ci_low,
    CAST(greatest(p, least(1, (p + {{ z }} * {{ z }} / (2 * exposed_units)
          + {{ z }} * sqrt(p * (1 - p) / exposed_units
                           + {{ z }} * {{ z }} / (4 * exposed_units * exposed_units)))
         / (1 + {{ z }} * {{ z }} / exposed_units))), 'Float64')    as ci_high,
    CAST(p0, 'Nullable(Float64)')                                   as control_rate,
    CAST(if(arm = 'control', NULL, p - p0), 'Nullable(Float64)')    as diff_vs_control,
    CAST(if(arm = 'control', NULL,
            p - p0 - {{ z }} * sqrt(p * (1 - p) / exposed_units + p0 * (1 - p0) / n0)),
         'Nullable(Float64)')                                       as diff_ci_low,
    CAST(if(arm = 'control', NULL,
            p - p0 + {{ z }} * sqrt(p * (1 - p) / exposed_units + p0 * (1 - p0) / n0)),
         'Nullable(Float64)')                                       as diff_ci_high,
    first_exposed_at,
    last_first_exposed_at,
    _ingested_through
from rates
