-- Transactional outbox: every committed change of the core, as an Avro record waiting to
-- be published. Written by marketplace_core.outbox.emit in the same transaction as the
-- change itself; read and marked by the relay (marketplace_core.outbox.relay).

-- Who wrote these rows. The relay stamps it on every Kafka message so that, after a
-- crash, it recognises its own messages in a topic that other databases also feed.
create table outbox_source (
    singleton  boolean primary key default true check (singleton),
    source_id  uuid not null default gen_random_uuid()
);
insert into outbox_source default values;

create table outbox (
    id                  bigint generated always as identity primary key,
    event_id            uuid not null unique,
    topic               text not null,
    entity_type         text not null,
    entity_id           text not null,             -- the Kafka key
    event_type          text not null,
    schema_fingerprint  text not null,             -- which local .avsc encoded payload
    payload             bytea not null,            -- schemaless Avro binary of the value
    occurred_at         timestamptz not null default clock_timestamp(),
    published_at        timestamptz,
    kafka_partition     integer,
    kafka_offset        bigint
);
create index outbox_unpublished_idx on outbox (id) where published_at is null;
create index outbox_entity_idx on outbox (entity_type, entity_id, id);

-- Per topic partition, the first offset the relay has not yet reconciled: after a crash
-- it reads from here to the end and marks as published what it finds of its own.
create table outbox_relay_positions (
    topic        text not null,
    partition    integer not null,
    next_offset  bigint not null,
    primary key (topic, partition)
);

-- Wake the relay at commit (notifications are delivered only when the transaction commits
-- and collapse to one per transaction).
create function outbox_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('outbox', '');
    return null;
end $$;
create trigger outbox_notify after insert on outbox
    for each statement execute function outbox_notify();
