-- One row per local (Asia/Bishkek) day a notification was queued and channel: how many
-- were queued on it, taken by the provider (sent or delivered), reported delivered,
-- failed or suppressed (preferences, duplicates, rate limits), the delivery rate
-- (delivered / sent: only channels whose providers report delivery, push and SMS, reach
-- 1; e-mail over SMTP stays "sent") and the send and delivery latencies (p50, p95, ms).
-- Rebuilt whole: a few rows per day.

with deliveries as (

    select * from {{ ref('stg_notify__delivery_current') }}

)

select
    business_date                                           as date,
    channel,
    toUInt64(count())                                       as notifications,
    toUInt64(countIf(status in ('sent', 'delivered')))      as sent,
    toUInt64(countIf(status = 'delivered'))                 as delivered,
    toUInt64(countIf(status = 'failed'))                    as failed,
    toUInt64(countIf(status = 'suppressed'))                as suppressed,
    if(countIf(status in ('sent', 'delivered')) = 0, null,
       round(countIf(status = 'delivered')
             / countIf(status in ('sent', 'delivered')), 4)) as delivery_rate,
    quantileExact(0.5)(send_latency_ms)                     as send_latency_p50_ms,
    quantileExact(0.95)(send_latency_ms)                    as send_latency_p95_ms,
    quantileExact(0.5)(delivery_latency_ms)                 as delivery_latency_p50_ms,
    quantileExact(0.95)(delivery_latency_ms)                as delivery_latency_p95_ms

from deliveries
group by business_date, channel
