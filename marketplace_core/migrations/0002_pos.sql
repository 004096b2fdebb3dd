-- POS: the smart terminals in shops that ring up sales (topic pos.sales, key device_id).
-- Owned by marketplace_core.pos.

create table pos_devices (
    id                 text primary key check (id ~ '^POS-[0-9]{4,}$'),
    shop_id            uuid not null references shops (id),
    status             text not null default 'active'
                       check (status in ('active', 'inactive', 'retired')),
    last_heartbeat_at  timestamptz,
    firmware_version   text
);
create index pos_devices_shop_id_idx on pos_devices (shop_id);
