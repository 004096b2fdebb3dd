-- Ads (issue 12 §1): campaigns with their creative and moderation, their status history,
-- and the ad wallet: PSP top-ups, per-campaign holds, charges (one per campaign and day,
-- idempotent), credits for invalid traffic. Owned by marketplace_core.ads, except the
-- first part, which is the ledger's (marketplace_core.payments.ledger).

-- --- the ledger: never-negative accounts ----------------------------------------------
-- An account created with never_negative = true keeps its running total (debit-positive,
-- like journal_lines.amount) in guarded_balance, updated by a trigger for every line
-- posted to it. The CHECK keeps its normal-side balance >= 0. The row update serialises
-- concurrent postings (the second waits, then re-checks against the committed total), so
-- no code path and no race can overdraw the merchant's ad money.
alter table ledger_accounts
    add column never_negative   boolean not null default false,
    add column guarded_balance  numeric(14,2) not null default 0;
alter table ledger_accounts add constraint ledger_accounts_never_negative check (
    not never_negative
    or (case when kind in ('liability', 'revenue') then -guarded_balance
             else guarded_balance end) >= 0);

create function ledger_guard_balance() returns trigger language plpgsql as $$
begin
    update ledger_accounts set guarded_balance = guarded_balance + new.amount
     where code = new.account_code and never_negative;
    return null;
end $$;
create trigger journal_lines_guard_balance after insert on journal_lines
    for each row execute function ledger_guard_balance();

-- --- ads ---------------------------------------------------------------------------------
-- One row per merchant that ever used ads: the lock every wallet movement of the merchant
-- takes (holds, charges, credits, top-ups), so they serialise per merchant. The money is
-- in the ledger: ad_wallet:<merchant> (free) and ad_hold:<merchant> (held).
create table ad_wallets (
    merchant_id  uuid primary key references merchants (id),
    created_at   timestamptz not null default now()
);

create table ad_campaigns (
    id                 uuid primary key default gen_random_uuid(),
    merchant_id        uuid not null references merchants (id),
    shop_id            uuid not null references shops (id),
    name               text not null check (length(name) between 1 and 200),
    -- boost: a post in Explore and Following; search: sponsored products in search;
    -- banner: an image
    type               text not null check (type in ('boost', 'search', 'banner')),
    -- cpc: per click; cpm: per 1,000 impressions; fixed_daily: per day shown
    pricing            text not null check (pricing in ('cpc', 'cpm', 'fixed_daily')),
    bid                numeric(12,2) not null check (bid > 0),
    daily_budget       numeric(12,2) not null check (daily_budget > 0),
    total_budget       numeric(12,2) not null check (total_budget >= daily_budget),
    -- Asia/Bishkek calendar dates, both included
    start_date         date not null,
    end_date           date not null check (end_date >= start_date),
    -- {"markets": [...], "geo": {"lat", "lon", "radius_km"} | null, "category_ids": [...],
    --  "tags": [...]} as validated by marketplace_core.ads.targeting
    targeting          jsonb not null,
    -- the creative: boost → post_id; search → product_ids; banner → banner media
    headline           text check (length(headline) <= 120),
    post_id            uuid,
    product_ids        uuid[] not null default '{}',
    banner             jsonb,
    status             text not null default 'draft' check (status in
                       ('draft', 'in_review', 'active', 'paused', 'budget_spent', 'ended')),
    moderation_status  text not null default 'pending'
                       check (moderation_status in ('pending', 'approved', 'rejected')),
    moderation_flags   text[] not null default '{}',  -- stop words the filter found
    moderation_note    text check (length(moderation_note) <= 1000),
    pause_reason       text check (pause_reason in ('seller', 'insufficient_funds')),
    -- money held in ad_hold:<merchant> for this campaign (sum over campaigns = that balance)
    held               numeric(12,2) not null default 0 check (held >= 0),
    spent              numeric(12,2) not null default 0 check (spent >= 0),
    created_by         uuid references users (id),
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    submitted_at       timestamptz,
    approved_at        timestamptz,
    ended_at           timestamptz,
    constraint ad_campaigns_spent_within_budget check (spent <= total_budget),
    constraint ad_campaigns_hold_only_when_active check (held = 0 or status = 'active'),
    constraint ad_campaigns_creative_fits_type check (
        (type = 'boost' and post_id is not null)
        or (type = 'search' and cardinality(product_ids) > 0)
        or (type = 'banner' and banner is not null))
);
create index ad_campaigns_merchant_idx on ad_campaigns (merchant_id, created_at desc);
create index ad_campaigns_status_idx on ad_campaigns (status, created_at);

-- Every status change, so a later job can tell whether a campaign was serving at a time
-- (a click while it was paused is never billed).
create table ad_campaign_status_log (
    id           bigint generated always as identity primary key,
    campaign_id  uuid not null references ad_campaigns (id),
    from_status  text,
    to_status    text not null,
    action       text not null,
    actor_id     uuid references users (id),
    at           timestamptz not null default now()
);
create index ad_campaign_status_log_idx on ad_campaign_status_log (campaign_id, at, id);

-- Top-ups of the ad wallet through the PSP: credited when its webhook confirms.
create table ad_topups (
    id                uuid primary key,
    merchant_id       uuid not null references merchants (id),
    amount            numeric(12,2) not null check (amount > 0),
    currency          text not null default 'KGS' check (currency = 'KGS'),
    status            text not null default 'pending'
                      check (status in ('pending', 'succeeded', 'failed')),
    provider          text not null,
    psp_payment_id    text not null,
    confirmation_url  text not null,
    acquiring_fee     numeric(12,2) check (acquiring_fee >= 0),
    journal_entry_id  uuid references journal_entries (id),
    created_by        uuid references users (id),
    created_at        timestamptz not null default now(),
    completed_at      timestamptz,
    constraint ad_topups_psp_payment_key unique (provider, psp_payment_id),
    constraint ad_topups_succeeded_is_posted
        check (status <> 'succeeded' or journal_entry_id is not null)
);
create index ad_topups_merchant_idx on ad_topups (merchant_id, created_at);

-- What a campaign is charged for one Asia/Bishkek day, posted once: by (campaign, day) and
-- by the caller's idempotency key. `charged` <= `requested`, capped by the daily budget,
-- the rest of the total budget and the merchant's money (capped_by says which).
create table ad_charges (
    id                uuid primary key default gen_random_uuid(),
    campaign_id       uuid not null references ad_campaigns (id),
    merchant_id       uuid not null references merchants (id),
    day               date not null,
    idempotency_key   text not null check (length(idempotency_key) between 1 and 200),
    requested         numeric(12,2) not null check (requested > 0),
    charged           numeric(12,2) not null check (charged >= 0 and charged <= requested),
    from_hold         numeric(12,2) not null check (from_hold >= 0),
    capped_by         text check (capped_by in ('daily_budget', 'total_budget', 'wallet')),
    credited          numeric(12,2) not null default 0
                      check (credited >= 0 and credited <= charged),
    journal_entry_id  uuid references journal_entries (id),
    created_at        timestamptz not null default now(),
    constraint ad_charges_once_per_day unique (campaign_id, day),
    constraint ad_charges_idempotency_key unique (idempotency_key),
    constraint ad_charges_hold_within_charge check (from_hold <= charged)
);
create index ad_charges_merchant_idx on ad_charges (merchant_id, created_at);

-- Credits for invalid traffic: money of a charge given back to the wallet.
create table ad_credits (
    id                uuid primary key default gen_random_uuid(),
    charge_id         uuid not null references ad_charges (id),
    campaign_id       uuid not null references ad_campaigns (id),
    merchant_id       uuid not null references merchants (id),
    idempotency_key   text not null check (length(idempotency_key) between 1 and 200),
    amount            numeric(12,2) not null check (amount > 0),
    reason            text not null check (length(reason) between 1 and 500),
    journal_entry_id  uuid not null references journal_entries (id),
    created_by        uuid references users (id),
    created_at        timestamptz not null default now(),
    constraint ad_credits_idempotency_key unique (idempotency_key)
);
