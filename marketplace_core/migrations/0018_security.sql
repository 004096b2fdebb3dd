-- Security (issue 11 §2): rate limits and login lockouts shared by every API process
-- (marketplace_core.ratelimit), and the notes on secrets now stored sealed.

-- Token buckets (POS device requests): `tokens` as of `updated_at`; refilled on read.
-- `refused` tells the caller of the last upsert whether it got a token.
create table rate_buckets (
    scope       text not null,
    key         text not null,   -- HMAC of the limited thing (never a token or an address)
    tokens      double precision not null,
    updated_at  timestamptz not null,
    refused     boolean not null default false,
    primary key (scope, key)
);
create index rate_buckets_updated_idx on rate_buckets (updated_at);

-- Lockouts with backoff (sign-in failures per account and per client address).
create table rate_lockouts (
    scope            text not null,
    key              text not null,     -- HMAC of the e-mail / the address
    failures         integer not null default 0 check (failures >= 0),
    level            integer not null default 0 check (level >= 0),  -- locks so far
    locked_until     timestamptz,
    last_failure_at  timestamptz not null default now(),
    primary key (scope, key)
);
create index rate_lockouts_last_failure_idx on rate_lockouts (last_failure_at);

-- Secrets at rest (platform_common.sealing): written sealed ("fernet:..."), opened at use.
-- Rows written before this migration are sealed by the step that runs after the SQL
-- migrations (marketplace_core.reseal), which also reseals under a new key on rotation.
comment on column users.totp_secret is
    'TOTP seed, sealed with DATA_ENCRYPTION_KEYS (platform_common.sealing)';
comment on column pos_devices.secret is
    'device HMAC signing secret, sealed with DATA_ENCRYPTION_KEYS (platform_common.sealing)';
-- Delivery codes: HMAC-SHA256 keyed with CORE_CODE_PEPPER over salt and code, stored as
-- "h1:<hex>"; a bare hex value is the older unkeyed SHA-256 (still checked until re-issued).
comment on column orders.delivery_code_hash is
    'h1:HMAC-SHA256(CORE_CODE_PEPPER, salt:code), or legacy sha256(salt:code) hex';
