-- Orders and everything a purchase needs around them: payout accounts and the per-shop
-- buy eligibility they feed, "request availability" messages, pickup slots, orders with
-- their items, and the stock reservations that hold units until payment and pickup.
-- Owned by marketplace_core.orders (orders, slots, eligibility, payout accounts) and
-- marketplace_core.inventory (stock_reservations).

-- Where a merchant's instant payouts go. One account per merchant; its shops'
-- `shops.payout_status` follows the account (onboarding activates, suspension deactivates).
create table merchant_payout_accounts (
    merchant_id        uuid primary key references merchants (id),
    provider           text not null check (provider in ('elsom', 'mbank', 'bank')),
    account_number     text not null check (account_number ~ '^\+?[0-9]{6,34}$'),
    bank_name          text,
    account_holder     text,
    status             text not null check (status in ('active', 'suspended')),
    onboarded_at       timestamptz not null,
    suspended_at       timestamptz,
    suspension_reason  text,
    updated_at         timestamptz not null,
    constraint merchant_payout_accounts_bank_named
        check (provider <> 'bank' or bank_name is not null)
);

-- The last announced buy eligibility of each shop (spec §3.4). The live value is computed
-- from pos_devices and shops.payout_status; this row is what consumers were last told, so
-- a change is emitted exactly once (core.shop_eligibility).
create table shop_eligibility (
    shop_id      uuid primary key references shops (id),
    mode         text not null check (mode in ('online_purchase', 'manual_contact')),
    reasons      text[] not null default '{}',
    computed_at  timestamptz not null,
    changed_at   timestamptz not null
);
create index shop_eligibility_mode_idx on shop_eligibility (mode);

-- "Запросить наличие": a buyer's auto-message to a shop (notifications come later).
create table availability_requests (
    id          uuid primary key default gen_random_uuid(),
    shop_id     uuid not null references shops (id),
    variant_id  uuid references product_variants (id),
    buyer_id    uuid not null references users (id),
    message     text not null check (length(btrim(message)) between 1 and 2000),
    status      text not null default 'open' check (status in ('open', 'answered', 'closed')),
    created_at  timestamptz not null default now()
);
create index availability_requests_shop_idx on availability_requests (shop_id, created_at);

-- Pickup time windows of a shop. `booked` counts the live orders in the slot and is moved
-- with a guarded UPDATE (booked < capacity), so a full slot cannot be overbooked.
create table pickup_slots (
    id          uuid primary key default gen_random_uuid(),
    shop_id     uuid not null references shops (id),
    starts_at   timestamptz not null,
    ends_at     timestamptz not null,
    capacity    integer not null check (capacity between 1 and 10000),
    booked      integer not null default 0,
    created_at  timestamptz not null default now(),
    constraint pickup_slots_window check (ends_at > starts_at),
    constraint pickup_slots_booked_range check (booked between 0 and capacity),
    constraint pickup_slots_shop_window_key unique (shop_id, starts_at, ends_at)
);

create table orders (
    id                      uuid primary key default gen_random_uuid(),
    buyer_id                uuid not null references users (id),
    shop_id                 uuid not null references shops (id),
    merchant_id             uuid not null references merchants (id),
    status                  text not null check (status in (
                                'pending_payment', 'paid', 'pickup_overdue', 'completed',
                                'cancelled', 'expired', 'refunded')),
    total                   numeric(12,2) not null check (total >= 0),
    currency                text not null default 'KGS' check (currency = 'KGS'),
    fulfilment              text not null check (fulfilment in ('pickup', 'delivery')),
    pickup_slot_id          uuid references pickup_slots (id),
    delivery_address        text,
    -- delivery confirmation: sha256(salt || code) of the 6-digit code, never the code
    delivery_code_salt      text,
    delivery_code_hash      text,
    delivery_code_attempts  integer not null default 0 check (delivery_code_attempts >= 0),
    payment_id              uuid,
    idempotency_key         text check (length(idempotency_key) between 1 and 200),
    request_hash            text,
    reserved_until          timestamptz not null,
    created_at              timestamptz not null,
    paid_at                 timestamptz,
    pickup_overdue_at       timestamptz,
    completed_at            timestamptz,
    cancelled_at            timestamptz,
    expired_at              timestamptz,
    refunded_at             timestamptz,
    updated_at              timestamptz not null,
    constraint orders_pickup_has_slot check (
        (fulfilment = 'pickup') = (pickup_slot_id is not null)),
    constraint orders_delivery_has_address check (
        (fulfilment = 'delivery') = (delivery_address is not null)),
    constraint orders_paid_has_payment check (
        status in ('pending_payment', 'cancelled', 'expired') or payment_id is not null),
    constraint orders_buyer_idempotency_key unique (buyer_id, idempotency_key)
);
create index orders_buyer_idx on orders (buyer_id, created_at desc);
create index orders_shop_idx on orders (shop_id, created_at desc);
-- what the reservation sweep scans: unpaid holds and paid pickups waiting for the buyer
create index orders_open_holds_idx on orders (reserved_until)
    where status in ('pending_payment', 'paid');

create table order_items (
    order_id    uuid not null references orders (id) on delete cascade,
    variant_id  uuid not null references product_variants (id),
    product_id  uuid not null,
    sku         text not null,
    qty         integer not null check (qty > 0),
    unit_price  numeric(12,2) not null check (unit_price >= 0),
    line_total  numeric(12,2) not null,
    primary key (order_id, variant_id),
    constraint order_items_line_total check (line_total = unit_price * qty)
);

-- Units taken out of product_variants.stock_qty for an order. `held` until the order is
-- completed (`consumed`: the goods left the shop) or released (`released`: the units went
-- back to stock, exactly once, guarded by status).
create table stock_reservations (
    order_id        uuid not null references orders (id) on delete cascade,
    variant_id      uuid not null references product_variants (id),
    qty             integer not null check (qty > 0),
    status          text not null default 'held'
                    check (status in ('held', 'released', 'consumed')),
    reserved_until  timestamptz not null,
    created_at      timestamptz not null,
    closed_at       timestamptz,
    close_reason    text,
    primary key (order_id, variant_id),
    constraint stock_reservations_closed check ((status = 'held') = (closed_at is null))
);
create index stock_reservations_held_variant_idx on stock_reservations (variant_id)
    where status = 'held';
