-- Terminal heartbeats as the terminals sent them (pos.heartbeats, deduplicated on
-- heartbeat_id), every 30 s with a stock snapshot. event_time is the device's clock;
-- heard_at is when the platform received it (the Kafka timestamp, the same instant the
-- core uses for liveness; a backlog sent after a network outage is heard late).

with source as (

    select * from {{ source('pos', 'pos_heartbeats') }}

)

select
    heartbeat_id,
    device_id,
    shop_id,
    status,
    firmware_version,
    sequence_number,
    {{ utc('event_time') }}                                 as event_time,
    {{ utc('coalesce(_kafka_timestamp, event_time)') }}     as heard_at,
    {{ local_date('coalesce(_kafka_timestamp, event_time)') }} as heard_date,
    length(stock)                                           as stock_lines,
    stock,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
