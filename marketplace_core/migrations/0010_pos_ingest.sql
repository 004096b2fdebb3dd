-- POS ingest (issue 4): device credentials, the receipts applied to inventory exactly once,
-- per-device counters, dead letters, the consumer's own offsets, and each terminal's
-- connectivity (pos_active / pos_offline). Owned by marketplace_core.pos.

-- Credentials: the token is kept only as its SHA-256 (it is a bearer secret); the HMAC
-- secret is kept as issued because verifying a signature needs it. Production would store
-- `secret` encrypted with a KMS key and decrypt it in the ingest only.
alter table pos_devices
    add column token_sha256            bytea,
    add column secret                  text,
    add column credentials_issued_at   timestamptz,
    -- Link state, driven by heartbeats and the offline sweep (distinct from the
    -- administrative `status` active/inactive/retired).
    add column connectivity            text not null default 'pos_offline'
                                       check (connectivity in ('pos_active', 'pos_offline')),
    add column connectivity_changed_at timestamptz,
    add column reported_status         text,
    -- The highest till-event sequence number applied (events are applied even when they
    -- arrive below it; see marketplace_core.pos.ingest).
    add column last_sequence_number    bigint not null default 0;
create unique index pos_devices_token_sha256_key on pos_devices (token_sha256)
    where token_sha256 is not null;
create index pos_devices_connectivity_idx on pos_devices (connectivity, last_heartbeat_at);

-- Every till event applied, once: the business key is (device_id, receipt_number).
create table pos_receipts (
    id                       bigserial primary key,
    device_id                text not null references pos_devices (id),
    receipt_number           text not null check (length(receipt_number) between 1 and 64),
    shop_id                  uuid not null references shops (id),
    sale_id                  uuid not null,
    event_type               text not null check (event_type in
                             ('sale', 'refund', 'void', 'discount', 'cash_in', 'cash_out')),
    sequence_number          bigint not null default 0,
    out_of_order             boolean not null default false,
    original_receipt_number  text,
    total                    numeric(12, 2),
    discount_amount          numeric(12, 2),
    cash_amount              numeric(12, 2),
    event_time               timestamptz not null,
    received_at              timestamptz not null,
    source                   text not null check (source in ('kafka', 'http')),
    voided_by                text,
    constraint pos_receipts_device_receipt_key unique (device_id, receipt_number)
);
create index pos_receipts_shop_id_idx on pos_receipts (shop_id, event_time);

-- The receipt's lines as the till rang them up.
create table pos_receipt_items (
    receipt_id  bigint not null references pos_receipts (id),
    line_no     int not null,
    variant_id  uuid not null references product_variants (id),
    qty         int not null check (qty >= 1),
    unit_price  numeric(12, 2) not null check (unit_price >= 0),
    primary key (receipt_id, line_no)
);

-- What the receipt did to stock, per stock-keeping variant (a bundle's components), so a
-- void can put back exactly what its sale took. `shortage` = units the till sold that the
-- platform believed were gone (stock is clamped at 0; the sale itself is real).
create table pos_receipt_moves (
    receipt_id  bigint not null references pos_receipts (id),
    variant_id  uuid not null references product_variants (id),
    delta       int not null,
    shortage    int not null default 0 check (shortage >= 0),
    primary key (receipt_id, variant_id)
);

create table pos_ingest_counters (
    device_id          text primary key references pos_devices (id),
    applied            bigint not null default 0,
    duplicates         bigint not null default 0,  -- DUPLICATE_SALE
    rejected           bigint not null default 0,
    heartbeats         bigint not null default 0,
    oversold_units     bigint not null default 0,
    last_duplicate_at  timestamptz,
    last_rejected_at   timestamptz
);

-- Refused events from both paths (Kafka and HTTP), kept whole. The ingest consumer
-- publishes unpublished rows to pos.dead_letter and stamps `published_at`. A Kafka message
-- is dead-lettered once even if the consumer replays it (unique source position).
create table pos_dead_letters (
    id                uuid primary key,
    reason_code       text not null,
    message           text not null,
    source            text not null check (source in ('kafka', 'http')),
    source_topic      text,
    source_partition  int,
    source_offset     bigint,
    device_id         text,
    receipt_number    text,
    raw_value         bytea not null,
    detected_at       timestamptz not null,
    published_at      timestamptz
);
create unique index pos_dead_letters_source_key
    on pos_dead_letters (source_topic, source_partition, source_offset)
    where source = 'kafka';
create index pos_dead_letters_unpublished_idx on pos_dead_letters (detected_at)
    where published_at is null;

-- The consumer's position per partition, written in the same transaction as the effects
-- of the messages before it: a replayed message below it is skipped, so counters and
-- dead letters are exact too (Kafka's committed offset may lag behind this one).
create table pos_ingest_offsets (
    topic        text not null,
    partition    int not null,
    next_offset  bigint not null,
    updated_at   timestamptz not null default now(),
    primary key (topic, partition)
);

-- Liveness of the ingest consumers (health checks).
create table pos_ingest_consumers (
    consumer_id   text primary key,
    group_id      text not null,
    pid           int not null,
    started_at    timestamptz not null,
    heartbeat_at  timestamptz not null,
    processed     bigint not null default 0
);
