-- Stock the till believes it has vs stock the platform holds (seed 000 §24.5): one row per
-- terminal and item of its LATEST heartbeat stock snapshot (the latest by device time
-- among its heartbeats that carried a snapshot).
--
-- The till names an item by variant_id, else barcode, else sku; the platform variant is
-- found in the terminal's shop in that order. The till's count is compared with the
-- platform's stock AT THE SNAPSHOT'S TIME (the variant's latest stock event at or before
-- it: sales and moves after the snapshot are not discrepancies), and the platform's stock
-- now (core_variants_current) is shown beside it.
--
--   status  match              pos_qty = platform_qty_at_snapshot
--           pos_higher         the till counts more than the platform had
--           pos_lower          the till counts fewer
--           not_yet_on_platform the variant had no stock event yet at the snapshot's time
--           deleted_variant    the platform variant is deleted now
--           unknown_item       no variant of the shop has that id, barcode or sku
--
-- Rebuilt whole on every run (a table swapped in atomically): it is a current state.

{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(shop_id, device_id, item_ref)',
) }}

with latest_snapshot as (

    -- each terminal's latest heartbeat that carried a snapshot
    select argMax(heartbeat_id, (event_time, sequence_number, heard_at))    as heartbeat_id
    from {{ ref('stg_pos__heartbeats') }}
    where stock_lines > 0
    group by device_id

),

lines as (

    select
        heartbeat_id,
        device_id,
        shop_id,
        event_time                                                          as snapshot_at,
        variant_id                                                          as reported_variant_id,
        barcode                                                             as reported_barcode,
        sku                                                                 as reported_sku,
        line_no,
        qty
    from {{ ref('stg_pos__heartbeat_stock') }}
    where heartbeat_id in (select heartbeat_id from latest_snapshot)

),

variants as (

    select * from {{ ref('stg_core__variant_current') }}

),

resolved as (

    select
        lines.heartbeat_id                                                  as heartbeat_id,
        lines.device_id                                                     as device_id,
        lines.shop_id                                                       as shop_id,
        lines.snapshot_at                                                   as snapshot_at,
        lines.reported_variant_id                                           as reported_variant_id,
        lines.reported_barcode                                              as reported_barcode,
        lines.reported_sku                                                  as reported_sku,
        lines.line_no                                                       as line_no,
        lines.qty                                                           as qty,
        coalesce(nullIf(by_id.variant_id, ''), nullIf(by_barcode.variant_id, ''),
                 nullIf(by_sku.variant_id, ''))                             as resolved_variant_id,
        coalesce(resolved_variant_id,
                 concat('barcode:', reported_barcode),
                 concat('sku:', reported_sku),
                 concat('line:', toString(line_no)))                        as item_ref
    from lines
    left join (select variant_id, shop_id from variants) as by_id
        on by_id.variant_id = lines.reported_variant_id
       and by_id.shop_id = lines.shop_id
    left join (select variant_id, shop_id, barcode from variants
               where barcode is not null
               order by variant_id limit 1 by shop_id, barcode) as by_barcode
        on by_barcode.shop_id = lines.shop_id
       and by_barcode.barcode = lines.reported_barcode
    left join (select variant_id, shop_id, sku from variants
               order by variant_id limit 1 by shop_id, sku) as by_sku
        on by_sku.shop_id = lines.shop_id
       and by_sku.sku = lines.reported_sku

),

items as (

    -- one row per terminal and item (a snapshot naming an item twice adds its counts)
    select
        device_id,
        shop_id,
        item_ref,
        resolved_variant_id                                                 as variant_id,
        any(reported_barcode)                                               as reported_barcode,
        any(reported_sku)                                                   as reported_sku,
        any(heartbeat_id)                                                   as heartbeat_id,
        any(snapshot_at)                                                    as snapshot_at,
        toInt64(ifNull(sum(qty), 0))                                        as pos_qty
    from resolved
    group by device_id, shop_id, item_ref, resolved_variant_id

),

stock_history as (

    select
        assumeNotNull(variant_id)                                           as variant_id,
        assumeNotNull(occurred_at)                                          as occurred_at,
        stock_qty,
        toUInt8(1)                                                          as found
    from {{ ref('stg_core__variants') }}

),

at_snapshot as (

    select
        items.*,
        assumeNotNull(ifNull(items.variant_id, ''))                         as join_variant_id,
        assumeNotNull(items.snapshot_at)                                    as join_at
    from items

),

with_history as (

    select
        at_snapshot.device_id                                               as device_id,
        at_snapshot.shop_id                                                 as shop_id,
        at_snapshot.item_ref                                                as item_ref,
        at_snapshot.variant_id                                              as variant_id,
        at_snapshot.reported_barcode                                        as reported_barcode,
        at_snapshot.reported_sku                                            as reported_sku,
        at_snapshot.heartbeat_id                                            as heartbeat_id,
        at_snapshot.snapshot_at                                             as snapshot_at,
        at_snapshot.pos_qty                                                 as pos_qty,
        if(stock_history.found = 1, stock_history.stock_qty, NULL)          as qty_at_snapshot
    from at_snapshot
    asof left join stock_history
        on stock_history.variant_id = at_snapshot.join_variant_id
       and stock_history.occurred_at <= at_snapshot.join_at

),

compared as (

    select
        with_history.device_id                                              as device_id,
        with_history.shop_id                                                as shop_id,
        with_history.item_ref                                               as item_ref,
        with_history.variant_id                                             as variant_id,
        with_history.reported_barcode                                       as reported_barcode,
        with_history.reported_sku                                           as reported_sku,
        with_history.heartbeat_id                                           as heartbeat_id,
        with_history.snapshot_at                                            as snapshot_at,
        with_history.pos_qty                                                as pos_qty,
        with_history.qty_at_snapshot                                        as qty_at_snapshot,
        variants.product_id                                                 as product_id,
        variants.sku                                                        as platform_sku,
        variants.barcode                                                    as platform_barcode,
        variants.stock_qty                                                  as platform_stock_now,
        variants.updated_at                                                 as platform_updated_now,
        ifNull(variants.is_deleted, false)                                  as variant_deleted
    from with_history
    left join variants
        on variants.variant_id = with_history.variant_id

)

select
    assumeNotNull(shop_id)                                                  as shop_id,
    assumeNotNull(device_id)                                                as device_id,
    assumeNotNull(item_ref)                                                 as item_ref,
    variant_id,
    if(variant_id is null, NULL, product_id)                                as product_id,
    if(variant_id is null, reported_sku, platform_sku)                      as sku,
    if(variant_id is null, reported_barcode, platform_barcode)              as barcode,
    heartbeat_id,
    CAST(snapshot_at, 'DateTime64(6, \'UTC\')')                            as snapshot_at,
    pos_qty,
    CAST(if(variant_id is null, NULL, qty_at_snapshot), 'Nullable(Int64)')  as platform_qty_at_snapshot,
    CAST(if(variant_id is null, NULL, platform_stock_now), 'Nullable(Int64)') as platform_qty,
    CAST(if(variant_id is null, NULL, platform_updated_now),
         'Nullable(DateTime64(6, \'UTC\'))')                               as platform_updated_at,
    CAST(pos_qty - platform_qty_at_snapshot, 'Nullable(Int64)')             as qty_difference,
    multiIf(
        variant_id is null,                               'unknown_item',
        variant_deleted,                                  'deleted_variant',
        platform_qty_at_snapshot is null,                 'not_yet_on_platform',
        pos_qty = platform_qty_at_snapshot,               'match',
        pos_qty > platform_qty_at_snapshot,               'pos_higher',
                                                          'pos_lower')      as status,
    CAST(status != 'match', 'Bool')                                         as is_discrepancy

from compared
