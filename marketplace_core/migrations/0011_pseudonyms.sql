-- Pseudonyms of accounts (owned by marketplace_core.accounts). Social and behavioural events
-- leave the core with a pseudonym instead of the account id: HMAC(secret, salt || user id),
-- with a random salt per account kept here. Erasing an account deletes its salt, so the
-- pseudonym already in Kafka and the lake can no longer be tied to anyone (and the lake's
-- erasure job deletes the rows carrying it; see marketplace_core/accounts/pseudonyms.py).
create table user_pseudonyms (
    user_id     uuid primary key references users (id) on delete cascade,
    salt        bytea not null,
    pseudo_id   text not null unique,
    created_at  timestamptz not null default now()
);

-- Accounts that opted out of behavioural analytics produce no behavioural events.
alter table users add column analytics_opt_out boolean not null default false;
