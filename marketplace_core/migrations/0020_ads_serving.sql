-- Ads serving (issue 12 §2): delivery counters for pacing, the frequency cap, and the
-- dedup memory of reported impressions and clicks. Owned by marketplace_core.ads.
-- No foreign keys on these hot tables: a key check would take a share lock on the
-- campaign row at every serve and report, colliding with the campaign's own updates.

-- Delivery per campaign and Asia/Bishkek day, split in shards so concurrent API
-- processes never queue on one hot row (the snapshot sums the shards every ~2 s).
-- served: slots served (frequency cap granted); impressions and clicks: reported and not
-- flagged; spend: estimated at the token's price (cpc per click, cpm per 1,000
-- impressions, fixed_daily once per day) — pacing's view, billing is the lake's.
create table ad_delivery (
    campaign_id  uuid not null,
    day          date not null,
    shard        smallint not null check (shard between 0 and 63),
    served       bigint not null default 0 check (served >= 0),
    impressions  bigint not null default 0 check (impressions >= 0),
    clicks       bigint not null default 0 check (clicks >= 0),
    spend        numeric(16,4) not null default 0 check (spend >= 0),
    primary key (campaign_id, day, shard)
);
create index ad_delivery_day_idx on ad_delivery (day);

-- Slots served per viewer (account pseudonym "u:..." or guest session "s:...") and
-- campaign and day: the frequency cap, checked and counted in one upsert at serve time.
create table ad_frequency (
    day          date not null,
    viewer       text not null check (length(viewer) <= 80),
    campaign_id  uuid not null,
    served       integer not null check (served >= 0),
    primary key (day, viewer, campaign_id)
);

-- One row per reported (impression_id, event type): a second report is a duplicate.
-- Kept until the token expired (plus a day); later reports are token_expired anyway.
create table ad_event_dedup (
    impression_id  uuid not null,
    event_type     text not null check (event_type in ('impression', 'click')),
    expires_at     timestamptz not null,
    primary key (impression_id, event_type)
);
create index ad_event_dedup_expires_idx on ad_event_dedup (expires_at);

-- A merchant moved to a plan without ads has its running campaigns paused (reason plan).
alter table ad_campaigns drop constraint ad_campaigns_pause_reason_check;
alter table ad_campaigns add constraint ad_campaigns_pause_reason_check
    check (pause_reason in ('seller', 'insufficient_funds', 'plan'));

-- Grant up to `p_need` ad slots to a viewer, trying `p_campaigns` in rank order: a
-- campaign is granted while the viewer's served count today is under `p_cap` (checked and
-- counted in one upsert, so concurrent requests of API processes never exceed the cap),
-- and its delivery shard counts the slot. One round trip per page; returns the granted
-- campaigns in order.
create function ad_grant_slots(p_day date, p_viewer text, p_cap integer,
                               p_campaigns uuid[], p_need integer, p_shard integer)
returns uuid[] language plpgsql as $$
declare
    c    uuid;
    got  uuid[] := '{}';
    n    integer;
begin
    foreach c in array p_campaigns loop
        exit when cardinality(got) >= p_need;
        n := null;
        insert into ad_frequency as f (day, viewer, campaign_id, served)
        values (p_day, p_viewer, c, 1)
        on conflict (day, viewer, campaign_id)
            do update set served = f.served + 1 where f.served < p_cap
        returning f.served into n;
        if n is not null then
            got := got || c;
            insert into ad_delivery as d (campaign_id, day, shard, served)
            values (c, p_day, p_shard, 1)
            on conflict (campaign_id, day, shard) do update set served = d.served + 1;
        end if;
    end loop;
    return got;
end $$;
