-- Catalog: who sells (merchants, shops) and what (categories, products, variants).
-- Owned by marketplace_core.catalog; other modules go through its service functions.

create table merchants (
    id          uuid primary key default gen_random_uuid(),
    name        text not null check (length(btrim(name)) > 0),
    created_at  timestamptz not null default now()
);

create table shops (
    id             uuid primary key default gen_random_uuid(),
    merchant_id    uuid not null references merchants (id),
    name           text not null check (length(btrim(name)) > 0),
    address        text,
    phone          text,
    lat            numeric(9,6) check (lat between -90 and 90),
    lon            numeric(9,6) check (lon between -180 and 180),
    market         text,
    payout_status  text not null default 'active'
                   check (payout_status in ('active', 'inactive')),
    created_at     timestamptz not null default now()
);
create index shops_merchant_id_idx on shops (merchant_id);

create table categories (
    id         uuid primary key default gen_random_uuid(),
    parent_id  uuid references categories (id),
    slug       text not null,
    name_ru    text not null,
    name_ky    text not null,
    constraint categories_slug_key unique (slug),
    constraint categories_not_own_parent check (parent_id is distinct from id)
);
create index categories_parent_id_idx on categories (parent_id);

create table products (
    id              uuid primary key default gen_random_uuid(),
    shop_id         uuid not null references shops (id),
    category_id     uuid references categories (id),
    name_ru         text not null check (length(btrim(name_ru)) > 0),
    name_ky         text,
    description_ru  text,
    created_at      timestamptz not null default now(),
    -- target of the variants' composite key: a variant's shop is its product's shop
    constraint products_id_shop_id_key unique (id, shop_id)
);
create index products_shop_id_idx on products (shop_id);
create index products_category_id_idx on products (category_id);

create table product_variants (
    id          uuid primary key default gen_random_uuid(),
    product_id  uuid not null,
    shop_id     uuid not null,
    sku         text not null check (length(btrim(sku)) > 0),
    barcode     text check (barcode ~ '^[0-9]{8}$|^[0-9]{12,13}$'),
    attributes  jsonb not null default '{}'::jsonb
                check (jsonb_typeof(attributes) = 'object'),
    price       numeric(12,2) not null check (price >= 0),
    stock_qty   integer not null default 0 check (stock_qty >= 0),
    updated_at  timestamptz not null default now(),
    constraint product_variants_product_fkey
        foreign key (product_id, shop_id) references products (id, shop_id),
    constraint product_variants_shop_sku_key unique (shop_id, sku)
);
create unique index product_variants_shop_barcode_key
    on product_variants (shop_id, barcode) where barcode is not null;
create index product_variants_product_id_idx on product_variants (product_id);
