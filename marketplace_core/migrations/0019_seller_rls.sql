-- Row-level security for seller-owned tables (issue 11 §2; seed 002: multi-tenant, tenant
-- = merchant): a second wall behind the API's ownership checks. A seller-scoped read runs
-- as the role core_seller_reader with the seller's merchants in the session variable
-- app.merchant_ids (marketplace_core.accounts.tenancy.seller_scope); a query that forgets
-- its shop or merchant filter still sees only those merchants' rows.
--
-- Every other role sees what it saw before: each table gets a permissive policy for
-- everyone and a restrictive one (ANDed with it) for core_seller_reader only. The owner
-- and superusers bypass row security anyway; the analyst and read-only roles keep the
-- permissive policy.

do $$
begin
    create role core_seller_reader nologin;
exception when duplicate_object then
    null;  -- roles are per cluster: another database of the cluster created it
end $$;
grant core_seller_reader to current_user;

-- The merchants of the current scope ({} outside one: a forgotten scope sees nothing).
create function app_merchant_ids() returns uuid[] language sql stable as $$
    select coalesce(nullif(current_setting('app.merchant_ids', true), '')::uuid[], '{}')
$$;

do $$
declare
    t record;
begin
    for t in
        select * from (values
            ('merchants',               'id = any(app_merchant_ids())'),
            ('merchant_members',        'merchant_id = any(app_merchant_ids())'),
            ('merchant_payout_accounts', 'merchant_id = any(app_merchant_ids())'),
            ('shops',                   'merchant_id = any(app_merchant_ids())'),
            ('orders',                  'merchant_id = any(app_merchant_ids())'),
            ('payments',                'merchant_id = any(app_merchant_ids())'),
            ('refunds',                 'merchant_id = any(app_merchant_ids())'),
            ('payouts',                 'merchant_id = any(app_merchant_ids())'),
            ('subscriptions',           'merchant_id = any(app_merchant_ids())'),
            ('subscription_invoices',   'merchant_id = any(app_merchant_ids())'),
            ('products',      'shop_id in (select id from shops where merchant_id = any(app_merchant_ids()))'),
            ('product_variants', 'shop_id in (select id from shops where merchant_id = any(app_merchant_ids()))'),
            ('pickup_slots',  'shop_id in (select id from shops where merchant_id = any(app_merchant_ids()))'),
            ('pos_devices',   'shop_id in (select id from shops where merchant_id = any(app_merchant_ids()))'),
            ('pos_receipts',  'shop_id in (select id from shops where merchant_id = any(app_merchant_ids()))'),
            ('shop_eligibility', 'shop_id in (select id from shops where merchant_id = any(app_merchant_ids()))'),
            ('order_items',   'order_id in (select id from orders where merchant_id = any(app_merchant_ids()))'),
            ('pos_ingest_counters', 'device_id in (select d.id from pos_devices d join shops s on s.id = d.shop_id where s.merchant_id = any(app_merchant_ids()))')
        ) as v(name, rule)
    loop
        execute format('alter table %I enable row level security', t.name);
        execute format('create policy everyone on %I using (true) with check (true)', t.name);
        execute format('create policy seller_scope on %I as restrictive to core_seller_reader'
                       ' using (%s)', t.name, t.rule);
        execute format('grant select on %I to core_seller_reader', t.name);
    end loop;
end $$;

-- Reference data a seller-scoped read may join (not owned by a seller).
grant select on categories to core_seller_reader;
grant usage on schema public to core_seller_reader;
