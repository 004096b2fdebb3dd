-- Billing from the lake (issue 12 §3): the billing job settles a campaign's day several
-- times as events land, each time to the lake's spend of the day through a watermark
-- (`through`). A settlement charges the increase or credits a decrease (traffic found
-- invalid later), so a day's net charge follows the lake exactly, once per window.

-- A manual charge stays once per campaign and day; window charges are once per window.
alter table ad_charges drop constraint ad_charges_once_per_day;
alter table ad_charges add column through timestamptz;
create unique index ad_charges_once_per_day on ad_charges (campaign_id, day)
    where through is null;

alter table ad_credits add column through timestamptz;

-- Every settlement that moved money: what the lake said the day owed through `through`.
-- The latest row of a (campaign, day) is what its charges now stand for.
create table ad_billing_windows (
    campaign_id   uuid not null references ad_campaigns (id),
    day           date not null,
    through       timestamptz not null,
    owed          numeric(12,2) not null check (owed >= 0),
    previous_owed numeric(12,2) not null check (previous_owed >= 0),
    charged       numeric(12,2) not null default 0 check (charged >= 0),
    credited      numeric(12,2) not null default 0 check (credited >= 0),
    charge_id     uuid references ad_charges (id),
    created_at    timestamptz not null default now(),
    primary key (campaign_id, day, through)
);
