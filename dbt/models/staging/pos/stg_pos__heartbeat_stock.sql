-- One row per line of a heartbeat's stock snapshot: what the till believes is on the shelf
-- (seed 000 §24.5), by variant_id, barcode or sku.

with heartbeats as (

    select * from {{ ref('stg_pos__heartbeats') }}

)

select
    heartbeats.heartbeat_id                                 as heartbeat_id,
    heartbeats.device_id                                    as device_id,
    heartbeats.shop_id                                      as shop_id,
    heartbeats.event_time                                   as event_time,
    heartbeats.heard_at                                     as heard_at,
    line_no,
    line.variant_id                                         as variant_id,
    line.barcode                                            as barcode,
    line.sku                                                as sku,
    line.qty                                                as qty,
    heartbeats._ingested_at                                 as _ingested_at

from heartbeats
array join
    heartbeats.stock as line,
    arrayEnumerate(heartbeats.stock) as line_no
