-- Every ad event with the one reason it is not billable (NULL: billable), seed 000 §3.10.
-- Rules, the first that matches wins (the order is the priority a seller sees):
--
--   intake_flag               what the core saw when the event was reported: duplicate
--                             (the token already reported this event type),
--                             campaign_inactive, token_expired, viewer_mismatch
--   known_bot                 no User-Agent, or one of a known robot or HTTP library
--                             (var ad_bot_user_agent_regex)
--   own_ad                    the viewer manages the campaign's merchant
--   duplicate                 a later impression or click of the same served slot
--                             (impression_id) than the first: one slot bills once, even
--                             when two API processes both let a replay through
--   click_without_impression  a click whose slot never reported an impression
--   too_fast                  a click sooner after the ad was served than a person can
--                             click (var ad_min_click_delay_ms, default 500 ms)
--   burst_user / burst_device / burst_address
--                             a click that is more than the allowed number of clicks in
--                             the trailing 60 seconds of the same viewer, device or network
--                             address (vars ad_burst_clicks_per_user 5, _per_device 5,
--                             _per_address 20), counting every click of the key
--
-- Bursts count clicks of every campaign: a script clicking many sellers' ads is one burst.
-- A full rebuild each run (a burst or a late impression can change an earlier verdict);
-- billing charges the difference, so a changed verdict becomes a credit or a charge.

{{ config(materialized='table', engine='MergeTree()',
          order_by='(campaign_id, business_date, occurred_at)') }}

{% set bot_re = var('ad_bot_user_agent_regex',
    '(?i)(bot|crawl|spider|slurp|headless|phantom|python-requests|python-httpx|python-urllib|aiohttp|curl/|wget|go-http-client|java/|okhttp|scrapy|httpclient)') %}
{% set min_click_ms = var('ad_min_click_delay_ms', 500) | int %}
{% set per_user = var('ad_burst_clicks_per_user', 5) | int %}
{% set per_device = var('ad_burst_clicks_per_device', 5) | int %}
{% set per_address = var('ad_burst_clicks_per_address', 20) | int %}

with

events as (

    select
        *,
        toUnixTimestamp64Milli(occurred_at)                        as at_ms,
        row_number() over (partition by impression_id, event_type
                           order by occurred_at, event_id)         as nth_of_slot
    from {{ ref('stg_ads__events') }}

),

impressed as (

    select distinct impression_id
    from events
    where event_type = 'impression'

),

clicks as (

    select
        event_id,
        count() over (partition by viewer_key order by at_ms
                      range between 59999 preceding and current row) as user_clicks,
        if(device_hash is null, 0,
           count() over (partition by device_hash order by at_ms
                         range between 59999 preceding and current row)) as device_clicks,
        count() over (partition by address_hash order by at_ms
                      range between 59999 preceding and current row) as address_clicks
    from events
    where event_type = 'click'

),

classified as (

    select
        e.*,
        multiIf(
            e.intake_flag is not null,                                   e.intake_flag,
            e.user_agent is null or e.user_agent = ''
                or match(e.user_agent, '{{ bot_re }}'),                  'known_bot',
            e.own_ad,                                                    'own_ad',
            e.nth_of_slot > 1,                                           'duplicate',
            e.event_type = 'click'
                and e.impression_id not in (select impression_id from impressed),
                                                                         'click_without_impression',
            e.event_type = 'click'
                and e.at_ms - toUnixTimestamp64Milli(e.served_at) < {{ min_click_ms }},
                                                                         'too_fast',
            e.event_type = 'click' and e.viewer_key is not null
                and c.user_clicks > {{ per_user }},                      'burst_user',
            e.event_type = 'click' and c.device_clicks > {{ per_device }}, 'burst_device',
            e.event_type = 'click' and c.address_clicks > {{ per_address }}, 'burst_address',
            null
        )                                                                as invalid_reason
    from events as e
    left join clicks as c on c.event_id = e.event_id

)

select
    event_id,
    event_type,
    impression_id,
    assumeNotNull(campaign_id)                                       as campaign_id,
    merchant_id,
    shop_id,
    campaign_type,
    placement,
    pricing,
    price,
    target_type,
    target_id,
    viewer_key,
    own_ad,
    intake_flag,
    experiment_arm,
    assumeNotNull(occurred_at)                                       as occurred_at,
    served_at,
    assumeNotNull(business_date)                                     as business_date,
    CAST(invalid_reason, 'Nullable(String)')                         as invalid_reason,
    invalid_reason is null                                           as billable,
    _ingested_at
from classified
