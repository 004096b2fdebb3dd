-- Seller subscriptions (spec §3.6): plans FREE / PRO / ENTERPRISE with SKU limits, a
-- 14-day trial, monthly auto-renewal that can be turned off. Owned by
-- marketplace_core.subscriptions.

create table subscription_plans (
    code           text primary key check (code ~ '^[A-Z]+$'),
    name           text not null,
    -- how many variants (SKUs) a merchant may have across its shops; NULL = unlimited
    sku_limit      integer check (sku_limit > 0),
    monthly_price  numeric(12,2) not null check (monthly_price >= 0),
    search_boost   boolean not null default false,
    ads_access     boolean not null default false,
    sort_order     integer not null
);
-- Prices in KGS per 30-day period (plausible for Bishkek shops; change with a migration).
insert into subscription_plans (code, name, sku_limit, monthly_price, search_boost,
                                ads_access, sort_order) values
    ('FREE', 'Free', 50, 0.00, false, false, 1),
    ('PRO', 'Pro', 5000, 1490.00, true, true, 2),
    ('ENTERPRISE', 'Enterprise', null, 4990.00, true, true, 3);

-- One row per merchant: its current plan. Created (FREE) the first time it is needed.
create table subscriptions (
    id                    uuid primary key default gen_random_uuid(),
    merchant_id           uuid not null references merchants (id),
    plan_code             text not null references subscription_plans (code),
    status                text not null check (status in ('trialing', 'active')),
    auto_renew            boolean not null default true,
    -- NULL for FREE: it never ends, so nothing renews it
    current_period_start  timestamptz,
    current_period_end    timestamptz,
    -- a merchant gets one trial in its life, whatever plans it moves between later
    trial_used_at         timestamptz,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    constraint subscriptions_merchant_id_key unique (merchant_id),
    constraint subscriptions_period_pair check (
        (current_period_start is null) = (current_period_end is null)
        and (current_period_end is null or current_period_end > current_period_start)),
    constraint subscriptions_paid_plan_has_period
        check ((plan_code = 'FREE') = (current_period_end is null))
);
create index subscriptions_due_idx on subscriptions (current_period_end)
    where current_period_end is not null;

-- A billing record per paid period; the amount is also posted to the ledger as
-- 'subscription_receivable:<merchant>' against 'platform_revenue:subscriptions'.
create table subscription_invoices (
    id               uuid primary key default gen_random_uuid(),
    subscription_id  uuid not null references subscriptions (id),
    merchant_id      uuid not null references merchants (id),
    plan_code        text not null references subscription_plans (code),
    period_start     timestamptz not null,
    period_end       timestamptz not null,
    amount           numeric(12,2) not null check (amount > 0),
    currency         text not null default 'KGS' check (currency = 'KGS'),
    status           text not null default 'receivable' check (status in ('receivable')),
    created_at       timestamptz not null default now(),
    constraint subscription_invoices_period_key unique (subscription_id, period_start)
);
create index subscription_invoices_merchant_id_idx on subscription_invoices (merchant_id);
