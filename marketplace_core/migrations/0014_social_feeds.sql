-- Social feeds (marketplace_core.social): keyset pages of the Following feed read one
-- owner's posts in (pinned, created_at, id) order straight from an index.
drop index if exists posts_shop_feed_idx;
drop index if exists posts_author_feed_idx;
create index posts_shop_feed_idx on posts (shop_id, pinned desc, created_at desc, id desc)
    where shop_id is not null;
create index posts_author_feed_idx on posts (author_id, pinned desc, created_at desc, id desc);
