-- Payments: what buyers pay through the PSP, the instant payouts to sellers, full refunds,
-- the platform's take rate and a double-entry ledger of every money movement.
-- Owned by marketplace_core.payments. Money is numeric(12,2) on documents and
-- numeric(14,2) in the ledger; the currency is KGS.

-- The platform's commission (spec §3.5: kept in the database, 0 by default). Append-only
-- history: the newest row is the rate in force, older rows say what was charged when.
create table take_rates (
    id          bigint generated always as identity primary key,
    -- a fraction of the order total: 0.0500 = 5 %; capped at 50 % so a payout never
    -- goes negative once the acquiring fee is taken as well
    rate        numeric(5,4) not null check (rate >= 0 and rate <= 0.5),
    set_by      uuid references users (id),
    created_at  timestamptz not null default now()
);
insert into take_rates (rate) values (0);

create table payments (
    id                uuid primary key,
    order_id          uuid not null references orders (id),
    buyer_id          uuid not null references users (id),
    merchant_id       uuid not null references merchants (id),
    shop_id           uuid not null references shops (id),
    amount            numeric(12,2) not null check (amount > 0),
    currency          text not null default 'KGS' check (currency = 'KGS'),
    status            text not null default 'pending'
                      check (status in ('pending', 'succeeded', 'failed')),
    provider          text not null,
    psp_payment_id    text not null,
    confirmation_url  text not null,
    -- known once the PSP reports success
    acquiring_fee     numeric(12,2) check (acquiring_fee >= 0 and acquiring_fee <= amount),
    take_rate         numeric(5,4),
    take_rate_amount  numeric(12,2) check (take_rate_amount >= 0),
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    succeeded_at      timestamptz,
    failed_at         timestamptz,
    constraint payments_psp_payment_id_key unique (provider, psp_payment_id),
    constraint payments_succeeded_has_fee
        check (status <> 'succeeded' or (acquiring_fee is not null and succeeded_at is not null))
);
-- at most one payment waiting for the buyer per order (a retry returns it)
create unique index payments_one_pending_per_order on payments (order_id)
    where status = 'pending';
create index payments_order_id_idx on payments (order_id);
create index payments_merchant_id_idx on payments (merchant_id);

-- Every PSP notification we accepted, by the PSP's event id: the unique key is what makes
-- the webhook idempotent (a redelivery finds its row and changes nothing). Written in the
-- same transaction as the change the event caused.
create table psp_webhook_events (
    event_id        text primary key check (length(event_id) between 1 and 200),
    event_type      text not null,
    psp_payment_id  text not null,
    amount          numeric(12,2),
    outcome         text not null
                    check (outcome in ('processed', 'ignored', 'amount_mismatch')),
    payload         jsonb not null,
    received_at     timestamptz not null default now()
);

-- Instant payout to the seller after a successful online purchase (spec §3.5).
create table payouts (
    id                uuid primary key default gen_random_uuid(),
    payment_id        uuid not null references payments (id),
    order_id          uuid not null references orders (id),
    merchant_id       uuid not null references merchants (id),
    shop_id           uuid not null references shops (id),
    gross_amount      numeric(12,2) not null check (gross_amount > 0),
    take_rate_amount  numeric(12,2) not null check (take_rate_amount >= 0),
    acquiring_fee     numeric(12,2) not null check (acquiring_fee >= 0),
    amount            numeric(12,2) not null check (amount >= 0),
    currency          text not null default 'KGS' check (currency = 'KGS'),
    destination       text not null,
    status            text not null default 'sent' check (status in ('sent')),
    created_at        timestamptz not null default now(),
    constraint payouts_payment_id_key unique (payment_id),
    constraint payouts_amount_adds_up
        check (amount = gross_amount - take_rate_amount - acquiring_fee)
);
create index payouts_merchant_id_idx on payouts (merchant_id, created_at);

-- Full refunds only (spec §3.5). reason: 'requested' (seller/admin) or 'order_not_payable'
-- (the buyer paid after the order had expired or was cancelled: returned automatically).
create table refunds (
    id              uuid primary key default gen_random_uuid(),
    payment_id      uuid not null references payments (id),
    order_id        uuid not null references orders (id),
    merchant_id     uuid not null references merchants (id),
    shop_id         uuid not null references shops (id),
    amount          numeric(12,2) not null check (amount > 0),
    currency        text not null default 'KGS' check (currency = 'KGS'),
    status          text not null default 'requested'
                    check (status in ('requested', 'succeeded', 'failed')),
    reason          text not null check (reason in ('requested', 'order_not_payable')),
    psp_refund_id   text,
    requested_by    uuid references users (id),
    created_at      timestamptz not null default now(),
    succeeded_at    timestamptz
);
-- one live refund per payment: a second request is ALREADY_REFUNDED
create unique index refunds_one_per_payment on refunds (payment_id) where status <> 'failed';
create index refunds_order_id_idx on refunds (order_id);

-- --- ledger ------------------------------------------------------------------------------
-- Double entry: a journal entry has lines whose amounts (debit > 0, credit < 0) sum to
-- zero per currency. Accounts are named by code, e.g. 'psp_clearing',
-- 'seller_payable:<merchant uuid>'; the kind says how to read a balance.
create table ledger_accounts (
    code         text primary key check (code ~ '^[a-z_]+(:[0-9a-z_-]+)?$'),
    kind         text not null check (kind in ('asset', 'liability', 'revenue', 'expense')),
    merchant_id  uuid references merchants (id),
    created_at   timestamptz not null default now()
);

create table journal_entries (
    id               uuid primary key default gen_random_uuid(),
    kind             text not null,
    memo             text,
    payment_id       uuid references payments (id),
    payout_id        uuid references payouts (id),
    refund_id        uuid references refunds (id),
    subscription_id  uuid,
    created_at       timestamptz not null default now()
);
create index journal_entries_payment_id_idx on journal_entries (payment_id);

create table journal_lines (
    id            bigint generated always as identity primary key,
    entry_id      uuid not null references journal_entries (id),
    account_code  text not null references ledger_accounts (code),
    currency      text not null default 'KGS' check (currency ~ '^[A-Z]{3}$'),
    amount        numeric(14,2) not null check (amount <> 0)
);
create index journal_lines_entry_id_idx on journal_lines (entry_id);
create index journal_lines_account_idx on journal_lines (account_code, currency);

-- Balanced journals, checked by the database at commit (a deferred constraint trigger sees
-- all lines of the entry, however many statements wrote them).
create function journal_entry_must_balance() returns trigger language plpgsql as $$
declare
    unbalanced record;
begin
    select currency, sum(amount) as total into unbalanced
      from journal_lines where entry_id = new.entry_id
     group by currency having sum(amount) <> 0
     limit 1;
    if found then
        raise exception 'journal entry % does not balance: % % left over',
            new.entry_id, unbalanced.total, unbalanced.currency
            using errcode = 'check_violation', constraint = 'journal_lines_balanced';
    end if;
    return null;
end $$;

create constraint trigger journal_lines_balanced after insert on journal_lines
    deferrable initially deferred for each row execute function journal_entry_must_balance();

-- The ledger is append-only: a mistake is corrected by a new (reversing) entry.
create function ledger_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'the ledger is append-only: % on % is not allowed', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end $$;
create trigger journal_lines_append_only before update or delete or truncate on journal_lines
    for each statement execute function ledger_refuse_change();
create trigger journal_entries_append_only before update or delete or truncate
    on journal_entries for each statement execute function ledger_refuse_change();

-- --- the PSP simulator's own storage ------------------------------------------------------
-- Plays the PSP's side locally (settings.psp_provider = 'simulator'): its payments, what
-- the "buyer" did on its page, and the webhook event it sent (re-sent as is on a retry).
-- Deliberately no foreign key to `payments`: it stands for another company's system.
create table psp_sim_payments (
    id                   text primary key,
    merchant_reference   uuid not null unique,          -- our payments.id
    amount               numeric(12,2) not null check (amount > 0),
    currency             text not null,
    description          text not null,
    status               text not null default 'pending'
                         check (status in ('pending', 'paid', 'failed')),
    fee                  numeric(12,2) not null check (fee >= 0),
    webhook_event_id     text,
    refund_id            text unique,
    refunded_amount      numeric(12,2),
    created_at           timestamptz not null default now(),
    completed_at         timestamptz,
    refunded_at          timestamptz,
    constraint psp_sim_payments_refund_full check (refunded_amount is null or refunded_amount = amount)
);
