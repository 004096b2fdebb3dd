-- One row per shop and local day: follows gained and lost (social.follows).

{{ config(materialized='table', engine='MergeTree()', order_by='(shop_id, date)') }}

select
    assumeNotNull(target_id)                                        as shop_id,
    assumeNotNull(business_date)                                    as date,
    toUInt64(countIf(active))                                       as follows,
    toUInt64(countIf(not active))                                   as unfollows,
    toInt64(sum(delta))                                             as net_follows
from {{ ref('stg_social__follows') }}
where target_type = 'shop'
group by target_id, business_date
