-- Social showcase (seed 000 §3.2, §3.3, §4.2-4.6, §15, §16), owned by
-- marketplace_core.social: posts and their media, tags and linked products; reactions,
-- follows, comments; moderation (reports, shadow bans, block lists, rate limits); the
-- Explore ranking the lake writes back.

-- Per-shop social settings (the comments policy); no row / null = the platform default.
create table social_shop_settings (
    shop_id        uuid primary key references shops (id),
    comments_mode  text check (comments_mode in ('all', 'buyers_only', 'followers_only', 'off')),
    updated_at     timestamptz not null default now()
);

create table posts (
    id                 uuid primary key default gen_random_uuid(),
    owner_type         text not null check (owner_type in ('seller', 'user')),
    shop_id            uuid references shops (id),
    author_id          uuid not null references users (id),
    text               text not null default '' check (length(text) <= 2200),
    tags               text[] not null default '{}' check (cardinality(tags) <= 30),
    lat                numeric(9,6) check (lat between -90 and 90),
    lon                numeric(9,6) check (lon between -180 and 180),
    place              text check (length(place) <= 200),
    visibility         text not null default 'public'
                       check (visibility in ('public', 'followers', 'private')),
    status             text not null default 'active'
                       check (status in ('active', 'hidden', 'deleted')),
    moderation_status  text not null default 'ok'
                       check (moderation_status in ('ok', 'flagged', 'rejected')),
    pinned             boolean not null default false,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    deleted_at         timestamptz,
    constraint posts_seller_has_shop check ((owner_type = 'seller') = (shop_id is not null)),
    constraint posts_geo_pair check ((lat is null) = (lon is null))
);
create index posts_shop_feed_idx on posts (shop_id, pinned desc, created_at desc)
    where shop_id is not null;
create index posts_author_feed_idx on posts (author_id, pinned desc, created_at desc);
create index posts_tags_idx on posts using gin (tags);
create index posts_text_idx on posts using gin (to_tsvector('simple', text));
create index posts_geo_idx on posts (lat, lon) where lat is not null and status = 'active';
create index posts_recent_public_idx on posts (created_at desc)
    where status = 'active' and visibility = 'public' and moderation_status = 'ok';

-- Media: a post's 1..10 photos/videos in order. post_id is null while an upload is not
-- yet attached to a post (milestone 3: presigned uploads).
create table post_media (
    id            uuid primary key default gen_random_uuid(),
    post_id       uuid references posts (id),
    uploader_id   uuid not null references users (id),
    kind          text not null check (kind in ('image', 'video')),
    object_key    text not null check (length(object_key) between 1 and 512),
    thumb_key     text,
    width         integer check (width between 1 and 20000),
    height        integer check (height between 1 and 20000),
    duration_s    numeric(6,2) check (duration_s > 0 and duration_s <= 60),
    alt_text      text check (length(alt_text) <= 500),
    sort          smallint not null default 0,
    status        text not null default 'ready'
                  check (status in ('pending_upload', 'processing', 'ready', 'failed')),
    content_type  text,
    size_bytes    bigint,
    error         text,
    created_at    timestamptz not null default now(),
    constraint post_media_video_duration check (kind = 'video' or duration_s is null)
);
create index post_media_post_idx on post_media (post_id, sort);

create table post_products (
    post_id     uuid not null references posts (id),
    product_id  uuid not null references products (id),
    sort        smallint not null,
    primary key (post_id, product_id)
);

-- likes and saves (taken back by deleting the row); shares are an append-only log
create table post_reactions (
    post_id     uuid not null references posts (id),
    user_id     uuid not null references users (id),
    reaction    text not null check (reaction in ('like', 'save')),
    created_at  timestamptz not null default now(),
    primary key (post_id, reaction, user_id)
);
create index post_reactions_user_idx on post_reactions (user_id, reaction, created_at desc);

create table post_shares (
    id          bigserial primary key,
    post_id     uuid not null references posts (id),
    user_id     uuid not null references users (id),
    created_at  timestamptz not null default now()
);
create index post_shares_post_idx on post_shares (post_id);

-- "hide for me"
create table post_hides (
    user_id     uuid not null references users (id),
    post_id     uuid not null references posts (id),
    created_at  timestamptz not null default now(),
    primary key (user_id, post_id)
);

create table social_follows (
    follower_id  uuid not null references users (id),
    target_type  text not null check (target_type in ('shop', 'user')),
    target_id    uuid not null,
    created_at   timestamptz not null default now(),
    primary key (follower_id, target_type, target_id)
);
create index social_follows_target_idx on social_follows (target_type, target_id);

create table comments (
    id                 uuid primary key default gen_random_uuid(),
    post_id            uuid not null references posts (id),
    author_id          uuid not null references users (id),
    text               text not null check (length(text) between 1 and 2200),
    status             text not null default 'visible'
                       check (status in ('visible', 'flagged', 'hidden', 'deleted')),
    verified_purchase  boolean not null default false,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);
create index comments_post_idx on comments (post_id, created_at, id);

-- Block lists: the blocker no longer sees the target's posts and comments, and a blocked
-- user cannot comment on the blocker's posts.
create table social_blocks (
    blocker_id   uuid not null references users (id),
    target_type  text not null check (target_type in ('shop', 'user')),
    target_id    uuid not null,
    created_at   timestamptz not null default now(),
    primary key (blocker_id, target_type, target_id)
);

-- Shadow-banned authors: they still see their own content, nobody else does.
create table social_shadow_bans (
    user_id     uuid primary key references users (id),
    banned_by   uuid references users (id),
    reason      text,
    created_at  timestamptz not null default now()
);

create table social_reports (
    id           uuid primary key default gen_random_uuid(),
    target_type  text not null check (target_type in ('post', 'comment')),
    post_id      uuid not null references posts (id),
    comment_id   uuid references comments (id),
    reporter_id  uuid references users (id),   -- null: the automatic stop-word filter
    reason       text not null check (length(reason) between 1 and 500),
    status       text not null default 'open' check (status in ('open', 'resolved')),
    action       text check (action in ('approve', 'reject', 'shadow_ban_author')),
    resolved_by  uuid references users (id),
    resolved_at  timestamptz,
    created_at   timestamptz not null default now(),
    constraint social_reports_comment_target check (
        (target_type = 'comment') = (comment_id is not null))
);
create index social_reports_open_idx on social_reports (created_at) where status = 'open';
-- one open report per reporter and target
create unique index social_reports_reporter_key on social_reports (
    reporter_id, target_type, post_id, coalesce(comment_id, post_id)) where status = 'open';

-- Rate-limit log shared by every API process: one row per counted action.
create table social_rate_events (
    id          bigserial primary key,
    user_id     uuid not null,
    action      text not null,
    text_hash   text,
    at          timestamptz not null default clock_timestamp()
);
create index social_rate_events_user_idx on social_rate_events (user_id, action, at);

-- Explore ranking written back by the lake (marketplace_core.social.ranking).
create table explore_scores (
    post_id      uuid primary key,
    score        double precision not null,
    parts        jsonb not null,
    computed_at  timestamptz not null
);
create index explore_scores_computed_at_idx on explore_scores (computed_at);
