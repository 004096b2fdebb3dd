-- What the lake has told a shop's managers (notify.analytics), one row per notice: the
-- daily report of a finished day and the first day of a sharp change. The producer runs
-- every refresh; this key is what makes a rerun, a retried run or two schedulers tell a
-- shop once.
create table analytics_notices (
    kind          text not null check (kind in ('daily_shop_report', 'analytics_anomaly')),
    shop_id       uuid not null,
    day           date not null,
    metric        text not null default '',
    event_id      uuid not null,
    requested_at  timestamptz not null default now(),
    primary key (kind, shop_id, day, metric)
);
