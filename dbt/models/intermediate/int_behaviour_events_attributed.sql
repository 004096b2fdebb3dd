-- Behavioural events with the shop (and post) they concern: a shop event is its shop's; a
-- product event belongs to the product's shop; a post event to the post's shop (a user's
-- post has none). Ads and searches carry no shop here.

with events as (

    select * from {{ ref('stg_analytics__events') }}

),

products as (

    select product_id, shop_id from {{ ref('stg_core__product_current') }}

),

posts as (

    select post_id, shop_id from {{ ref('stg_social__post_current') }}

)

select
    events.*,
    -- an unmatched left join yields '' (not NULL) for a String column, hence nullIf
    multiIf(events.target_type = 'shop', events.target_id,
            events.target_type = 'product', nullIf(products.shop_id, ''),
            events.target_type = 'post', posts.shop_id,
            NULL)                                            as shop_id,
    if(events.target_type = 'post', events.target_id, NULL)  as post_id,
    if(events.target_type = 'product', events.target_id, NULL) as product_id
from events
left join products
    on events.target_type = 'product' and products.product_id = events.target_id
left join posts
    on events.target_type = 'post' and posts.post_id = events.target_id
