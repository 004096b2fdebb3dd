-- Each notification's latest delivery state on one channel (notify_deliveries_current:
-- one row per notification_id, from the core's notification_log through the outbox), with
-- the times from queueing to the provider taking it (send) and to its delivery report.
-- No recipient, address or text travels this far.

with source as (

    select * from {{ source('notify', 'notify_deliveries_current') }}

)

select
    notification_id,
    source_event_id,
    notification_type,
    category,
    channel,
    priority,
    consent,
    shop_id,
    status,
    provider,
    attempts,
    {{ utc('created_at') }}                                 as created_at,
    {{ utc('sent_at') }}                                    as sent_at,
    {{ utc('delivered_at') }}                               as delivered_at,
    {{ local_date('created_at') }}                          as business_date,
    if(sent_at is null, null,
       dateDiff('millisecond', {{ utc('created_at') }}, {{ utc('sent_at') }}))
                                                            as send_latency_ms,
    if(delivered_at is null, null,
       dateDiff('millisecond', {{ utc('created_at') }}, {{ utc('delivered_at') }}))
                                                            as delivery_latency_ms,
    {{ utc('_ingested_at') }}                               as _ingested_at

from source
