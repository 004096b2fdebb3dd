-- Behavioural events from the apps (analytics.raw, accepted by POST /events, deduplicated
-- on the client's event_id by the landing). `viewer_key` is who did it: the account's
-- pseudonym, else the app install's anonymous id, else the session; reach counts it.

with source as (

    select * from {{ source('analytics', 'analytics_raw') }}

)

select
    event_id,
    event_type,
    target_type,
    target_id,
    session_id,
    user_pseudo_id,
    anonymous_id,
    coalesce(user_pseudo_id, anonymous_id, concat('session:', session_id))
                                                            as viewer_key,
    surface,
    position,
    search_query,
    platform,
    utm_source,
    utm_medium,
    utm_campaign,
    referrer,
    fingerprint,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ utc('received_at') }}                                as received_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
