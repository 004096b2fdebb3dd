-- Catalog extensions: translations, soft delete, QR codes, bundles, search columns.
-- Owned by marketplace_core.catalog.

create extension if not exists pg_trgm;

-- --- translations ---------------------------------------------------------------------
-- Buyer-visible text: ru is required, ky/en/zh/kk/uz are optional (filled gradually).
-- One column per language keeps the search expressions below plain and immutable.

alter table categories
    alter column name_ky drop not null,
    add column name_en     text,
    add column name_zh     text,
    add column name_kk     text,
    add column name_uz     text,
    add column sort_order  integer not null default 0,
    add constraint categories_name_ru_not_blank check (length(btrim(name_ru)) > 0);

alter table products
    add column name_en         text,
    add column name_zh         text,
    add column name_kk         text,
    add column name_uz         text,
    add column description_ky  text,
    add column description_en  text,
    add column description_zh  text,
    add column description_kk  text,
    add column description_uz  text,
    -- a bundle sells other variants of its shop together (see bundle_items)
    add column is_bundle       boolean not null default false,
    -- the seller's own product code (import groups variants by it; 1C/ERP keys)
    add column external_ref    text check (external_ref is null or length(btrim(external_ref)) > 0),
    add column updated_at      timestamptz not null default now(),
    add column deleted_at      timestamptz;

-- --- search ---------------------------------------------------------------------------
-- Full text over Russian and Kyrgyz names and descriptions: the `simple` configuration
-- keeps every word as written (Kyrgyz has no stemmer), `russian` adds stems so that
-- "смартфоны" finds "смартфон". Names weigh more than descriptions.
alter table products add column search_tsv tsvector generated always as (
    setweight(to_tsvector('simple'::regconfig,
                          coalesce(name_ru, '') || ' ' || coalesce(name_ky, '')), 'A')
    || setweight(to_tsvector('russian'::regconfig, coalesce(name_ru, '')), 'A')
    || setweight(to_tsvector('simple'::regconfig,
                             coalesce(description_ru, '') || ' ' || coalesce(description_ky, '')),
                 'B')
    || setweight(to_tsvector('russian'::regconfig, coalesce(description_ru, '')), 'B')
) stored;
-- The same text for trigram matching: typo tolerance ("смартфн" → "смартфон") in any
-- language, without a stemmer.
alter table products add column search_text text generated always as (
    coalesce(name_ru, '') || ' ' || coalesce(name_ky, '') || ' '
    || coalesce(description_ru, '') || ' ' || coalesce(description_ky, '')
) stored;

create index products_search_tsv_idx on products using gin (search_tsv);
create index products_search_trgm_idx on products using gin (search_text gin_trgm_ops);
create unique index products_shop_external_ref_key
    on products (shop_id, external_ref) where external_ref is not null and deleted_at is null;
create index products_created_at_idx on products (created_at desc, id) where deleted_at is null;

-- Distance filters prefilter shops by a lat/lon bounding box before the haversine.
create index shops_lat_lon_idx on shops (lat, lon) where lat is not null and lon is not null;

-- --- variants: QR codes, soft delete ----------------------------------------------------
-- QR payloads are opaque text (the barcode column stays digits-only, check-digit valid).
-- A deleted variant keeps its row (orders and POS sales point at it) but frees its SKU,
-- barcode and QR code for reuse, hence partial unique indexes.
alter table product_variants
    add column qr_code     text check (qr_code is null or length(qr_code) between 1 and 2048),
    add column deleted_at  timestamptz,
    -- target of bundle_items' composite key: a component is in the bundle's shop
    add constraint product_variants_id_shop_id_key unique (id, shop_id);

alter table product_variants drop constraint product_variants_shop_sku_key;
create unique index product_variants_shop_sku_key
    on product_variants (shop_id, sku) where deleted_at is null;
drop index product_variants_shop_barcode_key;
create unique index product_variants_shop_barcode_key
    on product_variants (shop_id, barcode) where barcode is not null and deleted_at is null;
create unique index product_variants_shop_qr_code_key
    on product_variants (shop_id, qr_code) where qr_code is not null and deleted_at is null;
-- price-range searches without text start from the variants
create index product_variants_price_idx
    on product_variants (price, product_id) where deleted_at is null;

-- --- bundles --------------------------------------------------------------------------
-- A bundle product lists component variants of the same shop with quantities. Its
-- availability is min over components of floor(component stock / quantity).
create table bundle_items (
    bundle_product_id     uuid not null,
    shop_id               uuid not null,
    component_variant_id  uuid not null,
    quantity              integer not null check (quantity between 1 and 10000),
    primary key (bundle_product_id, component_variant_id),
    constraint bundle_items_bundle_fkey
        foreign key (bundle_product_id, shop_id) references products (id, shop_id),
    constraint bundle_items_component_fkey
        foreign key (component_variant_id, shop_id) references product_variants (id, shop_id)
);
create index bundle_items_component_idx on bundle_items (component_variant_id);
