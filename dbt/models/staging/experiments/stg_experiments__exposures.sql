-- A/B test exposures (experiments.exposures, marketplace_core.experiments), one row per
-- exposure event id. `unit_id` is what was randomised: the account's pseudonym
-- (unit_type user) or the guest's app session id (unit_type session); the same unit may
-- appear once a day per API process, the readout keeps its earliest exposure.

with source as (

    select * from {{ source('experiments', 'experiments_exposures') }}

)

select
    event_id,
    experiment_key,
    arm,
    unit_type,
    user_pseudo_id,
    session_id,
    if(unit_type = 'user', user_pseudo_id, session_id)      as unit_id,
    surface,
    context,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
