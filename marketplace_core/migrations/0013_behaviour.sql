-- Behavioural event intake (owned by marketplace_core.behaviour) and analytics erasure
-- records (owned by marketplace_core.accounts.erasure).

-- What POST /events has already accepted, shared by every API process: one row per
-- accepted event id (b'i' || uuid bytes) and one per content fingerprint
-- (b'f' || first 16 bytes of the sha256). A batch claims its keys in one statement
-- (insert ... on conflict do update ... where expired ... returning key): a key returned
-- is new, one not returned is a live duplicate. Rows past expires_at are reclaimed by
-- that same statement and deleted by the sweep `sweep_behaviour_dedup`.
create table behaviour_dedup (
    key         bytea primary key,
    expires_at  timestamptz not null
);
-- expires_at grows with insertion order: a BRIN index makes the sweep cheap and costs
-- the hot path almost nothing.
create index behaviour_dedup_expires_brin on behaviour_dedup using brin (expires_at);

-- Bad events the replay tool (python -m marketplace_core.behaviour.replay) has produced
-- to analytics.raw: a second run skips them.
create table behaviour_replayed (
    bad_event_id     uuid primary key,
    client_event_id  text,
    reason           text not null,
    replayed_at      timestamptz not null default now()
);

-- Pseudonyms orphaned by an erasure (accounts.erasure.erase_analytics): the lake's
-- erasure job reads them (erased_pseudonyms_since) and deletes the rows carrying them.
create table erased_pseudonyms (
    pseudo_id   text primary key,
    erased_at   timestamptz not null default now()
);
create index erased_pseudonyms_erased_at on erased_pseudonyms (erased_at);
