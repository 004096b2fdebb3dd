-- Accounts: users, which sellers own which merchants, refresh-token families, and the
-- insert-only audit log. Owned by marketplace_core.accounts and marketplace_core.audit.

create table users (
    id                  uuid primary key default gen_random_uuid(),
    -- stored lower-cased by the service; the unique index below is the real guarantee
    email               text not null check (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'
                                             and length(email) <= 254),
    phone               text,
    full_name           text not null check (length(btrim(full_name)) > 0),
    role                text not null check (role in ('buyer', 'seller', 'admin')),
    password_hash       text not null,
    totp_secret         text,
    totp_enabled        boolean not null default false,
    -- the last accepted TOTP time step: a code is never accepted twice (RFC 6238 §5.2)
    totp_last_step      bigint,
    preferred_language  text not null default 'ru'
                        check (preferred_language in ('ru', 'ky', 'en', 'zh', 'kk', 'uz')),
    is_active           boolean not null default true,
    created_at          timestamptz not null default now(),
    constraint users_totp_needs_secret check (not totp_enabled or totp_secret is not null)
);
create unique index users_email_key on users (lower(email));

-- A seller manages a merchant (and its shops, products, payouts) through a membership.
create table merchant_members (
    merchant_id  uuid not null references merchants (id),
    user_id      uuid not null references users (id),
    role         text not null default 'owner' check (role in ('owner')),
    created_at   timestamptz not null default now(),
    primary key (merchant_id, user_id)
);
create index merchant_members_user_id_idx on merchant_members (user_id);

-- One family per login: every rotation adds a token to it. Presenting a token that was
-- already rotated revokes the whole family (a stolen token is then useless to both sides).
create table refresh_token_families (
    id              uuid primary key default gen_random_uuid(),
    user_id         uuid not null references users (id),
    created_at      timestamptz not null default now(),
    revoked_at      timestamptz,
    revoked_reason  text check (revoked_reason in ('logout', 'reuse', 'deactivated'))
);
create index refresh_token_families_user_id_idx on refresh_token_families (user_id);

create table refresh_tokens (
    id           uuid primary key default gen_random_uuid(),
    family_id    uuid not null references refresh_token_families (id),
    -- SHA-256 of the opaque token (hex); the token itself is never stored
    token_hash   text not null check (token_hash ~ '^[0-9a-f]{64}$'),
    issued_at    timestamptz not null default now(),
    expires_at   timestamptz not null,
    consumed_at  timestamptz,
    constraint refresh_tokens_token_hash_key unique (token_hash)
);
create index refresh_tokens_family_id_idx on refresh_tokens (family_id);

-- Who did what to which entity, from where. Insert-only, and the database enforces it:
-- UPDATE, DELETE and TRUNCATE are refused by triggers (statement level, so even a
-- statement that matches no row fails) and the privileges are revoked from PUBLIC.
create table audit_log (
    id           bigint generated always as identity primary key,
    actor_id     uuid,
    actor_role   text,
    action       text not null check (length(btrim(action)) > 0),
    entity_type  text not null,
    entity_id    text,
    details      jsonb,
    ip           inet,
    created_at   timestamptz not null default now()
);
create index audit_log_actor_idx on audit_log (actor_id, id);
create index audit_log_entity_idx on audit_log (entity_type, entity_id, id);

create function audit_log_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is insert-only: % is not allowed', tg_op
        using errcode = 'insufficient_privilege';
end $$;

create trigger audit_log_no_update_delete before update or delete on audit_log
    for each statement execute function audit_log_refuse_change();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_refuse_change();

revoke update, delete, truncate on audit_log from public;
