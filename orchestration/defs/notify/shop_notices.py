"""notify.analytics from the lake (seed 000 §25.3): each shop's daily report of the last
finished local day, and the first day of a sharp change of revenue or visits
(`shop_insights_daily`'s signal, on a day whose previous day had none).

The marts are read through the serving API (the process that owns the warehouse); every
notice is given through the notifications module's own functions, which claim it in the
core in the same transaction as its outbox event, so a rerun tells nobody twice.

    python -m orchestration.defs.notify.shop_notices   # one run now, a summary on stdout
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx

from infra.settings import get_settings

BISHKEK = ZoneInfo("Asia/Bishkek")


@dataclass(frozen=True)
class DailyReport:
    shop_id: UUID
    day: date
    revenue: Decimal
    orders: int
    receipts: int


@dataclass(frozen=True)
class Anomaly:
    shop_id: UUID
    day: date
    metric: str
    change_pct: Decimal


def last_finished_day(now: datetime) -> date:
    """Yesterday in Asia/Bishkek."""
    return now.astimezone(BISHKEK).date() - timedelta(days=1)


def day_end(day: date) -> datetime:
    """The first instant after `day` in Asia/Bishkek, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), BISHKEK).astimezone(UTC)


def _rows(mart: str, since: date) -> list[dict[str, Any]]:
    s = get_settings()
    r = httpx.get(f"{s.serving_api_url}/internal/marts/{mart}", params={"since": str(since)},
                  headers={"X-Internal-Token": s.internal_token}, timeout=600)
    r.raise_for_status()
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def _through(rows: list[dict[str, Any]]) -> datetime | None:
    marks = [datetime.fromisoformat(r["_ingested_through"]) for r in rows]
    newest = max(marks, default=None)
    return newest.replace(tzinfo=UTC) if newest and newest.tzinfo is None else newest


def plan(day: date, insights: list[dict[str, Any]], metrics: list[dict[str, Any]]
         ) -> tuple[list[DailyReport], list[Anomaly]]:
    """What to tell about `day`, from the marts' rows of `day - 1` and `day`.

    Reports: every shop with a figure that day (till or online), its net revenue as the
    insights mart counts it (till + online), online orders paid and till receipts.
    Anomalies: a signal on `day` for a shop and metric that had none the day before.
    """
    key = str(day)
    previous = str(day - timedelta(days=1))
    revenue = {r["shop_id"]: Decimal(r["value"]) for r in insights
               if r["date"] == key and r["metric"] == "revenue"}
    reports = [
        DailyReport(UUID(r["shop_id"]), day, revenue.get(r["shop_id"], Decimal("0.00")),
                    int(r["online_orders"]), int(r["receipts"]))
        for r in metrics if r["date"] == key]
    flagged_before = {(r["shop_id"], r["metric"]) for r in insights
                      if r["date"] == previous and r["signal"]}
    anomalies = [
        Anomaly(UUID(r["shop_id"]), day, r["metric"], Decimal(r["change_pct"]))
        for r in insights
        if r["date"] == key and r["signal"] and r["change_pct"] is not None
        and (r["shop_id"], r["metric"]) not in flagged_before]
    return (sorted(reports, key=lambda x: str(x.shop_id)),
            sorted(anomalies, key=lambda x: (str(x.shop_id), x.metric)))


def tell(reports: list[DailyReport], anomalies: list[Anomaly]) -> Counter[str]:
    """Give each notice through the core, one transaction each; counts by outcome."""
    from marketplace_core.db import connect
    from marketplace_core.notifications import analytics

    outcomes: Counter[str] = Counter()
    for report in reports:
        with connect() as conn:
            told = analytics.request_daily_report(
                conn, report.shop_id, report.day, revenue=report.revenue,
                orders=report.orders, receipts=report.receipts)
        outcomes["report_sent" if told else "report_skipped"] += 1
    for anomaly in anomalies:
        with connect() as conn:
            told = analytics.request_anomaly(conn, anomaly.shop_id, anomaly.day,
                                             metric=anomaly.metric,
                                             change_pct=anomaly.change_pct)
        outcomes["anomaly_sent" if told else "anomaly_skipped"] += 1
    return outcomes


@dataclass
class NoticeRun:
    day: date
    through: datetime | None
    ready: bool
    outcomes: Counter[str]

    def summary(self) -> dict[str, Any]:
        return {"day": str(self.day), "through": self.through.isoformat() if self.through
                else None, "ready": self.ready, "outcomes": dict(self.outcomes)}


def run(now: datetime | None = None) -> NoticeRun:
    """Tell the last finished day, once the lake has landed past its end (a report of a
    half-landed day would understate it)."""
    day = last_finished_day(now or datetime.now(UTC))
    since = day - timedelta(days=1)
    insights = _rows("shop_insights_daily", since)
    metrics = _rows("shop_metric_daily", since)
    through = _through(insights + metrics)
    ready = through is not None and through >= day_end(day)
    if not ready:
        return NoticeRun(day, through, False, Counter())
    reports, anomalies = plan(day, insights, metrics)
    return NoticeRun(day, through, True, tell(reports, anomalies))


if __name__ == "__main__":
    result = run()
    print(json.dumps(result.summary(), ensure_ascii=False))
    sys.exit(0)
