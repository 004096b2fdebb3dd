-- Notifications (seed 000 §25): preferences, sealed addresses, the dedup memory, and the
-- delivery log, which is also the worker's retry queue.

-- One row per owner and channel (seed §25.9 notification_pref). An owner is a user (their
-- own notifications) or a shop (what its managers receive about it). No row: defaults
-- (marketplace_core/notifications/preferences.py).
create table notification_prefs (
    owner_type     text not null check (owner_type in ('user', 'shop')),
    owner_id       uuid not null,
    channel        text not null check (channel in ('push', 'email', 'sms')),
    enabled        boolean not null default true,
    -- null: every category; otherwise the categories still wanted on this channel
    categories     text[],
    -- notification types and shops the owner muted on this channel
    muted_types    text[] not null default '{}',
    muted_shops    uuid[] not null default '{}',
    -- {"start": "22:00", "end": "08:00"} in the owner's time zone (Asia/Bishkek), or null
    quiet_hours    jsonb,
    updated_at     timestamptz not null default now(),
    primary key (owner_type, owner_id, channel)
);

-- Per owner: language and consent (seed §25.7: marketing needs an opt-in).
create table notification_settings (
    owner_type         text not null check (owner_type in ('user', 'shop')),
    owner_id           uuid not null,
    locale             text,
    timezone           text not null default 'Asia/Bishkek',
    marketing_consent  boolean not null default false,
    updated_at         timestamptz not null default now(),
    primary key (owner_type, owner_id)
);

-- Where a user is reached, sealed at rest (platform_common.sealing); `masked` is what
-- logs and the API show (a***@m***.kg, +996 *** ** 12).
create table notification_addresses (
    user_id     uuid not null references users (id),
    channel     text not null check (channel in ('push', 'email', 'sms')),
    sealed      text not null check (sealed like 'fernet:%'),
    masked      text not null,
    updated_at  timestamptz not null default now(),
    primary key (user_id, channel)
);

-- Idempotency keys (hash of type, recipient and payload) seen within the dedup window.
create table notification_dedup (
    key         text primary key,
    first_seen  timestamptz not null
);

-- One row per notification and channel (seed §25.9 notification_log). `queued` rows whose
-- next_attempt_at has come are the worker's queue; `sending` is claimed by a worker (an
-- attempt in flight); then sent → delivered (provider webhook) or failed. A channel that
-- fails for good hands over to the next one in `fallback` (a new row).
create table notification_log (
    id                 uuid primary key default gen_random_uuid(),
    event_id           uuid not null,
    event_type         text not null,
    recipient_user_id  uuid not null,
    shop_id            uuid,
    channel            text not null check (channel in ('push', 'email', 'sms')),
    fallback           text[] not null default '{}',
    template_key       text not null,
    locale             text not null,
    category           text not null,
    priority           text not null check (priority in ('high', 'normal')),
    consent            text not null check (consent in ('transactional', 'marketing')),
    payload_json       jsonb not null,
    idempotency_key    text not null,
    status             text not null check (status in
                           ('queued', 'sending', 'sent', 'delivered', 'failed', 'suppressed')),
    provider           text,
    provider_ref       text,
    to_masked          text,
    attempts           int not null default 0,
    next_attempt_at    timestamptz,
    last_error         text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    sent_at            timestamptz,
    delivered_at       timestamptz,
    -- a redelivered Kafka event finds its rows: a restart never queues twice
    constraint notification_log_once unique (event_id, recipient_user_id, channel)
);
create index notification_log_due_idx on notification_log (next_attempt_at)
    where status = 'queued';
create index notification_log_sending_idx on notification_log (updated_at)
    where status = 'sending';
create index notification_log_recipient_idx on notification_log
    (recipient_user_id, channel, sent_at);
create unique index notification_log_provider_ref_idx on notification_log (provider, provider_ref)
    where provider_ref is not null;

-- The worker's liveness (health check of the service).
create table notification_worker_heartbeat (
    worker      text primary key,
    beat_at     timestamptz not null,
    detail      text not null
);

-- The seller's "ready for pickup" (POST /orders/{id}/ready-for-pickup): announced once.
alter table orders add column ready_for_pickup_at timestamptz;
