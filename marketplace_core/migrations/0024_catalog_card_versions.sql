-- marketplace_core.catalog: the categories' epoch, for the API's product card cache
-- (marketplace_core/catalog/card_cache.py, issue 11 §4).
--
-- The cache checks a card against the row versions (xmin) of the product, its shop, its
-- variants and its bundle components, which Postgres changes with every committed update
-- by itself. The category path is a recursive walk, so instead any change of any
-- category (rare: admins) bumps this one counter, in the changing transaction.
create table catalog_card_epoch (
    id     boolean primary key default true check (id),
    epoch  bigint not null
);
insert into catalog_card_epoch (id, epoch) values (true, 0);

create function catalog_card_bump_epoch() returns trigger
language plpgsql as $$
begin
    update catalog_card_epoch set epoch = epoch + 1;
    return null;
end $$;

create trigger catalog_card_category_changed
    after insert or update or delete or truncate on categories
    for each statement execute function catalog_card_bump_epoch();
