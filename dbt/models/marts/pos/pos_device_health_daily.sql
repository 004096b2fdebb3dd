-- One row per POS terminal and local (Asia/Bishkek) day: how the platform heard from it.
-- A heartbeat counts when the platform received it (heard_at, the Kafka timestamp: the
-- instant the core's 10-minute liveness rule uses), so a backlog a terminal sends after a
-- network outage does not make the outage look online.
--
--   online_minutes  time covered by consecutive heartbeats at most 10 minutes apart
--                   (an interval across local midnight is split between the two days);
--                   a lone heartbeat adds nothing, so this is an estimate from below
--   offline_spells  silences of more than 10 minutes, counted on the day of the heartbeat
--                   that ends them (a terminal's first heartbeat ever ends none); the
--                   night a shop is closed is one
--   late_heartbeats heartbeats heard more than 10 minutes after the device's own time
--                   (sent from its outbox after an outage)
--   dead_letters    till events and heartbeats of the device the core refused, in total and
--                   by reason code
--   offline_transitions  times the core switched the device to pos_offline that day
--
-- Incremental (delete+insert by device and day). A heartbeat changes its own day and,
-- through the intervals and silences around it, the days before and after: those three
-- days are recomputed from the heartbeats of the day before to the day after each.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    unique_key=['device_id', 'date'],
    engine='MergeTree()',
    order_by='(device_id, date)',
) }}

{% set gap_ms = 10 * 60 * 1000 %}

with

{% if is_incremental() %}
touched as (

    select device_id, day
    from (
        select device_id, arrayJoin([heard_date - 1, heard_date, heard_date + 1]) as day
        from {{ ref('stg_pos__heartbeats') }}
        where _ingested_at > {{ ingested_since() }}
        union all
        select device_id, detected_date as day
        from {{ ref('stg_pos__dead_letters') }}
        where device_id is not null and _ingested_at > {{ ingested_since() }}
        union all
        select device_id, business_date as day
        from {{ ref('stg_core__pos_devices') }}
        where _ingested_at > {{ ingested_since() }}
    )
    group by device_id, day

),
{% endif %}

heartbeats as (

    select device_id, shop_id, heartbeat_id, heard_at, heard_date, event_time, _ingested_at
    from {{ ref('stg_pos__heartbeats') }}
    {% if is_incremental() %}
    where (device_id, heard_date) in (
        select device_id, arrayJoin([day - 1, day, day + 1]) from touched)
    {% endif %}

),

first_heard as (

    select device_id, min(heard_at) as first_heard_at
    from {{ ref('stg_pos__heartbeats') }}
    {% if is_incremental() %}
    where device_id in (select device_id from touched)
    {% endif %}
    group by device_id

),

sequenced as (

    select
        heartbeats.device_id                                                as device_id,
        heartbeats.shop_id                                                  as shop_id,
        heartbeats.heartbeat_id                                             as heartbeat_id,
        heartbeats.heard_at                                                 as heard_at,
        heartbeats.heard_date                                               as heard_date,
        heartbeats.event_time                                               as event_time,
        heartbeats._ingested_at                                             as _ingested_at,
        first_heard.first_heard_at                                          as first_heard_at,
        row_number() over w                                                 as nth,
        lagInFrame(heartbeats.heard_at) over w                              as prev_heard_at
    from heartbeats
    left join first_heard on first_heard.device_id = heartbeats.device_id
    window w as (partition by heartbeats.device_id
                 order by heartbeats.heard_at, heartbeats.heartbeat_id
                 rows between unbounded preceding and current row)

),

gaps as (

    select
        *,
        toInt64(toUnixTimestamp64Milli(assumeNotNull(heard_at)))            as heard_ms,
        if(nth = 1, NULL,
           heard_ms - toUnixTimestamp64Milli(assumeNotNull(prev_heard_at))) as gap_ms,
        toInt64(toUnixTimestamp(toStartOfDay(assumeNotNull(heard_at),
                                             {{ local_timezone() }}))) * 1000 as midnight_ms,
        -- a silence ends here: a gap over 10 minutes, or no earlier heartbeat in the days
        -- read although the terminal had been heard before (then the gap is over a day)
        (gap_ms > {{ gap_ms }})
          or (gap_ms is null and heard_at > first_heard_at)                 as ends_silence
    from sequenced

),

heard_daily as (

    select
        device_id,
        heard_date                                                          as day,
        any(shop_id)                                                        as shop_id,
        count()                                                             as heartbeats,
        min(heard_at)                                                       as first_heartbeat_at,
        max(heard_at)                                                       as last_heartbeat_at,
        countIf(ends_silence)                                               as offline_spells,
        countIf(heard_at > event_time + toIntervalMinute(10))               as late_heartbeats,
        max(_ingested_at)                                                   as ingested_through
    from gaps
    group by device_id, heard_date

),

online_daily as (

    select device_id, part.1 as day, sum(part.2) as online_ms
    from (
        select
            device_id,
            arrayJoin(if(heard_ms - gap_ms >= midnight_ms,
                         [(heard_date, gap_ms)],
                         [(heard_date, heard_ms - midnight_ms),
                          (heard_date - 1, midnight_ms - (heard_ms - gap_ms))])) as part
        from gaps
        where gap_ms is not null and gap_ms <= {{ gap_ms }}
    )
    group by device_id, day

),

dead_letters as (

    select
        device_id,
        day,
        sum(n)                                                              as dead_letters,
        mapFromArrays(groupArray(reason_code), groupArray(n))               as dead_letters_by_reason,
        max(ingested_through)                                               as ingested_through
    from (
        select
            device_id,
            detected_date                                                   as day,
            ifNull(reason_code, 'UNKNOWN')                                  as reason_code,
            toUInt64(count())                                               as n,
            max(_ingested_at)                                               as ingested_through
        from {{ ref('stg_pos__dead_letters') }}
        where device_id is not null
        group by device_id, day, reason_code
    )
    group by device_id, day

),

transitions as (

    select
        device_id,
        business_date                                                       as day,
        countIf(event_type = 'pos_device.offline')                          as offline_transitions,
        max(_ingested_at)                                                   as ingested_through
    from {{ ref('stg_core__pos_devices') }}
    group by device_id, day

),

device_days as (

    select device_id, day from heard_daily
    union distinct
    select device_id, day from dead_letters
    union distinct
    select device_id, day from transitions where offline_transitions > 0

)

select
    assumeNotNull(device_days.device_id)                                    as device_id,
    assumeNotNull(device_days.day)                                          as date,
    coalesce(heard_daily.shop_id, devices.shop_id)                          as shop_id,
    toUInt64(ifNull(heard_daily.heartbeats, 0))                             as heartbeats,
    CAST(heard_daily.first_heartbeat_at, 'Nullable(DateTime64(6, \'UTC\'))') as first_heartbeat_at,
    CAST(heard_daily.last_heartbeat_at, 'Nullable(DateTime64(6, \'UTC\'))') as last_heartbeat_at,
    CAST(round(CAST(ifNull(online_daily.online_ms, 0), 'Decimal(18, 3)') / 60000, 2),
         'Decimal(10, 2)')                                                  as online_minutes,
    toUInt64(ifNull(heard_daily.offline_spells, 0))                         as offline_spells,
    toUInt64(ifNull(heard_daily.late_heartbeats, 0))                        as late_heartbeats,
    toUInt64(ifNull(dead_letters.dead_letters, 0))                          as dead_letters,
    CAST(ifNull(dead_letters.dead_letters_by_reason, map()),
         'Map(String, UInt64)')                                             as dead_letters_by_reason,
    toUInt64(ifNull(transitions.offline_transitions, 0))                    as offline_transitions,
    CAST(greatest(ifNull(heard_daily.ingested_through, toDateTime64(0, 6, 'UTC')),
                  ifNull(dead_letters.ingested_through, toDateTime64(0, 6, 'UTC')),
                  ifNull(transitions.ingested_through, toDateTime64(0, 6, 'UTC'))),
         'DateTime64(6, \'UTC\')')                                          as _ingested_through

from device_days
left join heard_daily
    on heard_daily.device_id = device_days.device_id and heard_daily.day = device_days.day
left join online_daily
    on online_daily.device_id = device_days.device_id and online_daily.day = device_days.day
left join dead_letters
    on dead_letters.device_id = device_days.device_id and dead_letters.day = device_days.day
left join transitions
    on transitions.device_id = device_days.device_id and transitions.day = device_days.day
left join {{ ref('stg_core__pos_device_current') }} as devices
    on devices.device_id = device_days.device_id
{% if is_incremental() %}
where (device_days.device_id, device_days.day) in (select device_id, day from touched)
{% endif %}
