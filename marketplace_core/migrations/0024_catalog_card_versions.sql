-- marketplace_core.catalog: versions of the product card, for the API's card cache
-- (marketplace_core/catalog/card_cache.py, issue 11 §4).
--
-- Every change that can alter what GET /products/{id} shows bumps a version IN THE SAME
-- TRANSACTION as the change, by triggers: so it is committed (and visible) exactly when the
-- change is, whichever code path made it (the seller's API, an order's stock reservation,
-- the POS ingest, a bulk fix in psql). A cached card is served only when the versions it
-- was built under are still the committed ones.
--   * per product: its row, its variants (price, stock, attributes, deletion), its bundle
--     items, and, for a bundle, any change of a component variant or component product
--     (the bundle card shows their names, prices and the stock they allow);
--   * one epoch for the rare changes that touch many cards at once: a shop's card fields
--     (name, address, phone, position, market, merchant) and any category change (path).
-- Values come from one sequence, so every bump yields a value never seen before: a cache
-- compares for equality, never order.
create sequence catalog_card_version_seq;

create table catalog_card_versions (
    product_id  uuid primary key,
    version     bigint not null
);

create table catalog_card_epoch (
    id     boolean primary key default true check (id),
    epoch  bigint not null
);
insert into catalog_card_epoch (id, epoch) values (true, nextval('catalog_card_version_seq'));

create function catalog_card_bump(product_ids uuid[]) returns void
language sql as $$
    insert into catalog_card_versions as v (product_id, version)
    select distinct p, nextval('catalog_card_version_seq') from unnest(product_ids) as p
    on conflict (product_id) do update set version = excluded.version;
$$;

create function catalog_card_bump_epoch() returns trigger
language plpgsql as $$
begin
    update catalog_card_epoch set epoch = nextval('catalog_card_version_seq');
    return null;
end $$;

-- the bundles whose card shows one of these component variants
create function catalog_card_bundles_of_variants(variant_ids uuid[]) returns uuid[]
language sql stable as $$
    select coalesce(array_agg(distinct bi.bundle_product_id), '{}')
    from bundle_items bi where bi.component_variant_id = any (variant_ids);
$$;

create function catalog_card_on_variant() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        perform catalog_card_bump(array[old.product_id]
                                  || catalog_card_bundles_of_variants(array[old.id]));
        return old;
    end if;
    if tg_op = 'UPDATE' and old.product_id is distinct from new.product_id then
        perform catalog_card_bump(array[old.product_id]);
    end if;
    perform catalog_card_bump(array[new.product_id]
                              || catalog_card_bundles_of_variants(array[new.id]));
    return new;
end $$;

create trigger catalog_card_variant_changed
    after insert or update or delete on product_variants
    for each row execute function catalog_card_on_variant();

create function catalog_card_on_product() returns trigger
language plpgsql as $$
declare
    pid uuid := case when tg_op = 'DELETE' then old.id else new.id end;
begin
    -- the product's own card, and the bundles that show one of its variants (its name)
    perform catalog_card_bump(array[pid] || catalog_card_bundles_of_variants(
        array(select v.id from product_variants v where v.product_id = pid)));
    return null;
end $$;

create trigger catalog_card_product_changed
    after insert or update or delete on products
    for each row execute function catalog_card_on_product();

create function catalog_card_on_bundle_item() returns trigger
language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        perform catalog_card_bump(array[old.bundle_product_id]);
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        perform catalog_card_bump(array[new.bundle_product_id]);
    end if;
    return null;
end $$;

create trigger catalog_card_bundle_item_changed
    after insert or update or delete on bundle_items
    for each row execute function catalog_card_on_bundle_item();

-- shops: only the fields the card shows (payout status and the like change often and
-- must not empty every process's cache)
create trigger catalog_card_shop_changed
    after update on shops
    for each row
    when ((old.merchant_id, old.name, old.address, old.phone, old.lat, old.lon, old.market)
          is distinct from
          (new.merchant_id, new.name, new.address, new.phone, new.lat, new.lon, new.market))
    execute function catalog_card_bump_epoch();

create trigger catalog_card_category_changed
    after insert or update or delete on categories
    for each statement execute function catalog_card_bump_epoch();
