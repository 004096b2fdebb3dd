-- marketplace_core.chat: buyer–shop conversations (seed 000 §3.4, §3.10, §4), their
-- messages in a per-conversation sequence, read receipts, attachments (uploads of the
-- media pipeline), blocks and reports.

-- A conversation is between one buyer (an account) and one shop, about the shop in
-- general, one of its products or one of the buyer's orders there. At most one open
-- conversation per buyer, shop and subject (the partial unique index below): opening again
-- returns it. `last_seq` is the sequence number of the newest message; a message takes
-- last_seq + 1 under this row's lock, so one conversation's numbers follow its commit order.
create table chat_conversations (
    id               uuid primary key default gen_random_uuid(),
    buyer_id         uuid not null references users (id),
    shop_id          uuid not null references shops (id),
    subject_type     text not null check (subject_type in ('shop', 'product', 'order')),
    -- the shop itself, the product or the order
    subject_id       uuid not null,
    status           text not null default 'open' check (status in ('open', 'closed')),
    last_seq         bigint not null default 0 check (last_seq >= 0),
    -- read receipts per side: the highest sequence number that side has read (sending a
    -- message reads everything before it)
    buyer_read_seq   bigint not null default 0,
    shop_read_seq    bigint not null default 0,
    buyer_read_at    timestamptz,
    shop_read_at     timestamptz,
    -- where in the app the buyer opened it, and the app's session id: the chat_started
    -- behavioural event (analytics.raw) carries them; started_event_at is null until that
    -- event is published (marketplace_core.chat.analytics)
    surface          text not null default 'other'
                     check (surface in ('map', 'feed', 'following', 'explore', 'search',
                                        'profile', 'ad', 'other')),
    session_id       text check (length(session_id) between 1 and 64),
    started_event_at timestamptz,
    created_at       timestamptz not null default now(),
    last_message_at  timestamptz,
    closed_at        timestamptz,
    constraint chat_conversations_reads check (buyer_read_seq between 0 and last_seq
                                               and shop_read_seq between 0 and last_seq)
);
create unique index chat_conversations_open_uq
    on chat_conversations (buyer_id, shop_id, subject_type, subject_id) where status = 'open';
create index chat_conversations_buyer_idx
    on chat_conversations (buyer_id, coalesce(last_message_at, created_at) desc, id);
create index chat_conversations_shop_idx
    on chat_conversations (shop_id, coalesce(last_message_at, created_at) desc, id);
create index chat_conversations_unannounced_idx
    on chat_conversations (created_at) where started_event_at is null;

-- Messages, numbered 1, 2, 3… per conversation. `client_ref` is the sender's own id for
-- the message: a resend after a lost answer returns the stored message instead of a copy.
-- `body_hash` (sha256 of the normalised text) finds one sender's repeated texts.
create table chat_messages (
    conversation_id  uuid not null references chat_conversations (id),
    seq              bigint not null check (seq >= 1),
    id               uuid not null default gen_random_uuid() unique,
    sender_side      text not null check (sender_side in ('buyer', 'shop')),
    sender_id        uuid not null references users (id),
    kind             text not null default 'text'
                     check (kind in ('text', 'availability_request')),
    body             text not null check (length(body) <= 4000),
    body_hash        text,
    client_ref       text check (length(client_ref) between 1 and 64),
    -- the stop-word filter held it for the moderators (it is delivered; a report is open)
    flagged          boolean not null default false,
    created_at       timestamptz not null default now(),
    primary key (conversation_id, seq)
);
create unique index chat_messages_client_ref_uq
    on chat_messages (conversation_id, sender_id, client_ref) where client_ref is not null;
create index chat_messages_repeats_idx
    on chat_messages (sender_id, body_hash, created_at) where body_hash is not null;

-- Attachments: processed uploads of the media pipeline (POST /media/uploads, the social
-- domain's `post_media`), with what the other party needs to show them copied at sending.
create table chat_attachments (
    message_id   uuid not null references chat_messages (id),
    sort         smallint not null check (sort between 0 and 9),
    media_id     uuid not null references post_media (id),
    kind         text not null check (kind in ('image', 'video')),
    object_key   text not null,
    thumb_key    text,
    width        integer,
    height       integer,
    duration_s   numeric(6,2),
    primary key (message_id, sort)
);

-- Blocks between a buyer and a shop, either way: `blocked_by` = 'shop' (a manager blocked
-- the buyer: the buyer can neither message the shop nor open a conversation with it) or
-- 'buyer' (the buyer blocked the shop: the shop cannot message the buyer).
create table chat_blocks (
    shop_id     uuid not null references shops (id),
    user_id     uuid not null references users (id),
    blocked_by  text not null check (blocked_by in ('buyer', 'shop')),
    actor_id    uuid not null references users (id),
    created_at  timestamptz not null default now(),
    primary key (shop_id, user_id, blocked_by)
);

-- Reports of a conversation or one of its messages, for the moderators; reporter null =
-- the automatic stop-word filter.
create table chat_reports (
    id               uuid primary key default gen_random_uuid(),
    conversation_id  uuid not null references chat_conversations (id),
    message_seq      bigint,
    reporter_id      uuid references users (id),
    reason           text not null check (length(reason) between 1 and 500),
    status           text not null default 'open' check (status in ('open', 'resolved')),
    created_at       timestamptz not null default now(),
    resolved_at      timestamptz,
    resolved_by      uuid references users (id),
    foreign key (conversation_id, message_seq) references chat_messages (conversation_id, seq)
);
-- a reporter's repeat of an open report is the same report
create unique index chat_reports_open_uq
    on chat_reports (conversation_id, coalesce(message_seq, 0), reporter_id)
    where status = 'open' and reporter_id is not null;
create index chat_reports_open_idx on chat_reports (created_at) where status = 'open';
