-- Each terminal's latest connectivity state as the core decided it
-- (core_pos_devices_current: one row per device_id), and the shop it belongs to.

with source as (

    select * from {{ source('core', 'core_pos_devices_current') }}

)

select
    device_id,
    shop_id,
    status,
    previous_status,
    event_type                                              as last_event_type,
    {{ utc('last_heartbeat_at') }}                          as last_heartbeat_at,
    {{ utc('occurred_at') }}                                as updated_at,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
