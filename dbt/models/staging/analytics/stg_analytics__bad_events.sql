-- Events POST /events refused, with the reason (the raw payload stays in the lake only:
-- it may hold anything a client sent).

with source as (

    select * from {{ source('analytics', 'analytics_bad_events') }}

)

select
    event_id,
    reason,
    detail,
    client_event_id,
    schema_version,
    {{ utc('occurred_at') }}                                as received_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
