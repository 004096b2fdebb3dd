-- Terminal connectivity history (core.pos_devices, deduplicated on event_id), as the core
-- decided it: pos_device.registered | pos_device.active | pos_device.offline (over 10
-- minutes without a heartbeat).

with source as (

    select * from {{ source('core', 'core_pos_devices') }}

)

select
    event_id,
    event_type,
    device_id,
    shop_id,
    status,
    previous_status,
    {{ utc('last_heartbeat_at') }}                          as last_heartbeat_at,
    {{ utc('occurred_at') }}                                as occurred_at,
    {{ local_date('occurred_at') }}                         as business_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
