-- Till events and heartbeats the core refused (pos.dead_letter, deduplicated on
-- dead_letter_id), with the reason code; their raw bytes stay in the lake (raw_value) and
-- are not carried here.

with source as (

    select * from {{ source('pos', 'pos_dead_letter') }}

)

select
    dead_letter_id,
    reason_code,
    message,
    source,
    source_topic,
    source_partition,
    source_offset,
    device_id,
    receipt_number,
    {{ utc('detected_at') }}                                as detected_at,
    {{ local_date('detected_at') }}                         as detected_date,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
