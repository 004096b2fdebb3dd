"""The ads half of `make reconcile`: every tyiyn charged for ads, traced to the events.

Per campaign and Asia/Bishkek day of the billing lookback (ADS_BILLING_LOOKBACK_DAYS),
four figures computed independently:

    events   the billable events (int_ad_events_classified, after the invalid-traffic
             rules) priced HERE from their serving prices: cpc = sum of click prices, cpm =
             sum of impression prices / 1,000 rounded half up once per day, fixed_daily =
             the day's price once if any impression is billable
    mart     ad_event_daily.spend (dbt's own pricing of the same events)
    owed     what the ledger's charges for the day stand for (the latest settlement)
    ledger   charges minus credits of the day, and the ads revenue their journal entries
             posted (must be the same)

A day agrees when events = mart = owed, ledger = revenue, and ledger = owed unless a budget
or the wallet capped a charge (then ledger < owed, shown as capped). A day the billing job
has not settled since the mart last changed is "pending" (shown, not a difference).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings
from platform_common.money import to_cents_half_even, to_cents_half_up

ZERO = Decimal("0.00")
Key = tuple[str, dt.date]


def _internal(path: str, **params: Any) -> dict[str, Any]:
    s = get_settings()
    r = httpx.get(f"{s.serving_api_url}{path}", params=params,
                  headers={"X-Internal-Token": s.internal_token}, timeout=600)
    r.raise_for_status()
    out: dict[str, Any] = r.json()
    return out


def price_events(rows: list[dict[str, Any]]) -> dict[Key, Decimal]:
    """Spend per campaign-day from billable events grouped by pricing, type and price."""
    cpc: dict[Key, Decimal] = defaultdict(Decimal)
    cpm: dict[Key, Decimal] = defaultdict(Decimal)
    fixed: dict[Key, Decimal] = defaultdict(Decimal)
    for r in rows:
        key = (str(r["campaign_id"]), dt.date.fromisoformat(str(r["date"])))
        price, n = Decimal(str(r["price"])), int(r["events"])
        if r["pricing"] == "cpc" and r["event_type"] == "click":
            cpc[key] += price * n
        elif r["pricing"] == "cpm" and r["event_type"] == "impression":
            cpm[key] += price * n
        elif r["pricing"] == "fixed_daily" and r["event_type"] == "impression":
            fixed[key] = max(fixed[key], price)
    keys = set(cpc) | set(cpm) | set(fixed)
    return {k: to_cents_half_even(cpc[k] + to_cents_half_up(cpm[k] / 1000) + fixed[k])
            for k in keys}


def reconcile_ads(console: Console) -> int:
    """Print the ads table; the number of differences (or -1 if a layer is unreadable)."""
    from marketplace_core.ads import billing, campaigns, wallet
    from marketplace_core.db import connect

    since = wallet.today() - dt.timedelta(days=get_settings().ads_billing_lookback_days)
    try:
        events = price_events(_internal("/internal/ads/billable-events",
                                        since=since.isoformat())["rows"])
        mart_rows = _internal("/internal/marts/ad_event_daily")["rows"]
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 503:
            console.print("[yellow]ads: the ads models have not been built yet; nothing to "
                          "reconcile")
            return 0
        console.print(f"[red]ads: the warehouse could not be read: {exc}")
        return -1
    mart = {(r["campaign_id"], dt.date.fromisoformat(r["date"])): r for r in mart_rows
            if dt.date.fromisoformat(r["date"]) >= since}
    with connect() as conn:
        ledger = {(str(d.campaign_id), d.day): d for d in billing.billed_days(conn, since)}
        ours = {str(c) for c in campaigns.known_ids(
            conn, [UUID(k[0]) for k in (set(events) | set(mart))])}
    foreign = {k for k in set(events) | set(mart) if k[0] not in ours}
    events = {k: v for k, v in events.items() if k not in foreign}
    mart = {k: v for k, v in mart.items() if k not in foreign}
    table = Table(title="Ad billing per campaign and day, KGS: events priced here, mart, "
                        "owed by the ledger's settlements, ledger net, journal revenue")
    for col in ("campaign", "day", "events", "mart", "owed", "ledger", "revenue", "state"):
        table.add_column(col, justify="left" if col in ("campaign", "day", "state")
                         else "right")
    diffs = 0
    for key in sorted(set(events) | set(mart) | set(ledger), key=lambda k: (k[1], k[0])):
        ev = events.get(key, ZERO)
        m = mart.get(key)
        spend = Decimal(m["spend"]) if m else ZERO
        led = ledger.get(key)
        state = "ok"
        if ev != spend:
            state = "events != mart"
        elif led is None:
            state = "pending" if spend > 0 else "ok"
        else:
            built = dt.datetime.fromisoformat(m["_ingested_through"]) if m else None
            if built is not None and built.tzinfo is None:
                built = built.replace(tzinfo=dt.UTC)
            settled_after = led.through is not None and (built is None or led.through >= built)
            if led.charged != led.revenue:
                state = "ledger != journal"
            elif led.owed != spend:
                state = "mart != owed" if settled_after else "pending"
            elif led.charged != led.owed:
                state = "capped" if led.capped and led.charged < led.owed else "ledger != owed"
        bad = state not in ("ok", "pending", "capped")
        diffs += bad
        color = "red" if bad else ("yellow" if state != "ok" else "green")
        table.add_row(key[0][:8], str(key[1]), f"{ev:.2f}", f"{spend:.2f}",
                      f"{led.owed:.2f}" if led else "—", f"{led.charged:.2f}" if led else "—",
                      f"{led.revenue:.2f}" if led else "—", f"[{color}]{state}[/]")
    console.print(table)
    if foreign:
        console.print(f"[yellow]ads: {len(foreign)} campaign-day(s) in the lake belong to "
                      "campaigns this core does not know (another core on the same broker); "
                      "not compared")
    return diffs
