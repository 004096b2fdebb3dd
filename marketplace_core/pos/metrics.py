"""POS metrics (seed 000 §19: "POS heartbeat", alerts on POS failures and heartbeat delays).

* Read at scrape time from the core's own table (`pos_devices`, owned by this module's
  domain), in the core API process: heartbeat age per administratively active terminal and
  how many are pos_offline. The API serves them, not the ingest, so a dead ingest (no
  heartbeats applied) shows as ages growing, not as metrics vanishing.
* Updated by the ingest (`marketplace_core.pos.consumer`): events applied / refused by
  reason, and the consumer lag per partition.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from prometheus_client import Counter, Gauge

from marketplace_core.db import resolve_dsn
from platform_common.metrics import Sample, ScrapeCollector, register_once

EVENTS = Counter(
    "pos_ingest_events",
    "POS events the ingest read from Kafka, by topic and outcome (applied, duplicate, "
    "rejected, replayed).",
    ["topic", "outcome"],
)
REJECTED = Counter(
    "pos_ingest_rejected",
    "POS events the ingest refused (dead-lettered), by dead-letter reason code.",
    ["reason"],
)
CONSUMER_LAG = Gauge(
    "pos_ingest_consumer_lag_messages",
    "Messages in a partition not yet applied by this consumer (high watermark - position).",
    ["topic", "partition"],
)
BATCH_SECONDS = Gauge(
    "pos_ingest_last_batch_seconds", "Duration of the last applied batch (transaction).")


def _heartbeat_ages(dsn: str | None) -> Iterator[Sample]:
    # Never-heard terminals have no age: they count in the offline gauge instead.
    with psycopg.connect(resolve_dsn(dsn), connect_timeout=3,
                         options="-c statement_timeout=5s") as conn:
        rows = conn.execute(
            "select id, extract(epoch from clock_timestamp() - last_heartbeat_at)"
            "  from pos_devices where status = 'active' and last_heartbeat_at is not null"
        ).fetchall()
    for device_id, age in rows:
        yield {"device_id": device_id}, max(float(age), 0.0)


def _connectivity(dsn: str | None) -> Iterator[Sample]:
    with psycopg.connect(resolve_dsn(dsn), connect_timeout=3,
                         options="-c statement_timeout=5s") as conn:
        rows: dict[str, int] = dict(conn.execute(
            "select connectivity, count(*) from pos_devices where status = 'active'"
            " group by connectivity").fetchall())
    for state in ("pos_active", "pos_offline"):
        yield {"connectivity": state}, float(rows.get(state, 0))


_source: dict[str, str | None] = {"dsn": None}


def register_scrape_metrics(dsn: str | None = None) -> None:
    """The core API's factory calls it; the latest app's database is the one read (tests
    build an app per database)."""
    _source["dsn"] = dsn
    register_once(ScrapeCollector(
        "pos_heartbeat_age_seconds",
        "Seconds since each active terminal's last heartbeat (spec: every 30 s; offline "
        "after 10 min).", ["device_id"], lambda: _heartbeat_ages(_source["dsn"])))
    register_once(ScrapeCollector(
        "pos_devices", "Administratively active terminals by connectivity "
        "(pos_active / pos_offline).", ["connectivity"],
        lambda: _connectivity(_source["dsn"])))
