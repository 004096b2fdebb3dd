"""Replay bad events: `python -m marketplace_core.behaviour.replay [--reason CODE]
[--since ISO-TIME] [--dry-run]`.

Reads `analytics.bad_events` (every partition, from the start or from `--since`, up to
the end offsets seen when it starts), decodes each record with its writer schema from the
registry, and re-checks the event's raw bytes with the CURRENT rules (settings included),
against the time the API first received it. The events that now pass go through the
intake's own path: dedup in `behaviour_dedup`, produce to `analytics.raw`, wait for
acks=all. Each replayed bad event (accepted, or found to be a duplicate) is then recorded
in `behaviour_replayed` in the same transaction, so a second run skips it and nothing is
sent twice. Events that still fail stay where they are for a later fix. A signed-in
sender's event is replayed only if its pseudonym is still live and not opted out
(`accounts.pseudonyms.may_track`); otherwise it is counted as dropped (and recorded).
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

import click
import fastavro
import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition

from infra.settings import get_settings
from marketplace_core.accounts import pseudonyms
from marketplace_core.behaviour import batch as batches
from marketplace_core.behaviour.intake import (
    ACCEPTED,
    DUPLICATE,
    EventIntake,
    Prepared,
    prepare,
)
from marketplace_core.behaviour.rules import Rules
from marketplace_core.db import resolve_dsn
from marketplace_core.outbox.writer import parsed_schema
from platform_common import log_redaction
from schemas.registry import registry_client
from schemas.topics import ANALYTICS_BAD_EVENTS

log = logging.getLogger("marketplace_core.behaviour.replay")


@dataclass
class ReplayStats:
    scanned: int = 0
    matched: int = 0
    already_replayed: int = 0
    replayed: int = 0
    duplicate: int = 0
    dropped: int = 0
    still_invalid: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False


@cache
def _writer_schema(schema_id: int) -> Any:
    text = registry_client().get_schema(schema_id).schema_str
    if text is None:
        raise LookupError(f"schema id {schema_id} has no text in the registry")
    return fastavro.parse_schema(json.loads(text))


def read_bad_events(topic: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every bad-event record on `topic` (from `since`, by broker time), decoded."""
    s = get_settings()
    consumer = Consumer({"bootstrap.servers": s.kafka_bootstrap_servers,
                         "group.id": f"behaviour-replay-{secrets.token_hex(4)}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    reader = parsed_schema(ANALYTICS_BAD_EVENTS)
    out: list[dict[str, Any]] = []
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            raise RuntimeError(f"topic {topic}: {meta.error}")
        for partition in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                       timeout=10)
            if since is not None:
                found = consumer.offsets_for_times(
                    [TopicPartition(topic, partition, int(since.timestamp() * 1000))],
                    timeout=10)[0].offset
                low = high if found < 0 else max(low, found)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            while True:
                msg = consumer.poll(10)
                if msg is None:
                    raise RuntimeError(f"timed out reading {topic}[{partition}]")
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        break
                    raise RuntimeError(f"reading {topic}: {err}")
                value = msg.value() or b""
                if value[:1] != b"\x00" or len(value) < 5:
                    log.warning("skipping a record that is not Confluent-framed")
                else:
                    writer = _writer_schema(int.from_bytes(value[1:5], "big"))
                    record = fastavro.schemaless_reader(io.BytesIO(value[5:]), writer, reader)
                    assert isinstance(record, dict)
                    out.append(record)
                if (msg.offset() or 0) >= high - 1:
                    break
            consumer.unassign()
    finally:
        consumer.close()
    return out


def _ms(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def _parse_one(raw: bytes) -> Any:
    try:
        return batches.parse_batch(b'{"events":[' + raw + b"]}", 1)[0]
    except batches.BatchError:
        return _Unreadable


class _Unreadable:
    """Marker: the raw bytes are not one JSON value (the rules reject it)."""


def replay(*, reason: str | None = None, since: datetime | None = None,
           dry_run: bool = False, dsn: str | None = None, bad_topic: str | None = None,
           raw_topic: str | None = None, rules: Rules | None = None) -> ReplayStats:
    s = get_settings()
    bad_topic = bad_topic or s.events_bad_topic or ANALYTICS_BAD_EVENTS.name
    stats = ReplayStats(dry_run=dry_run)
    records = read_bad_events(bad_topic, since)
    stats.scanned = len(records)
    matched = [r for r in records
               if (reason is None or r["reason"] == reason)
               and (since is None or _ms(r["occurred_at"]) >= since.timestamp() * 1000)]
    stats.matched = len(matched)
    still: Counter[str] = Counter()
    intake = EventIntake(raw_topic=raw_topic, bad_topic=bad_topic, rules=rules)
    try:
        with psycopg.connect(resolve_dsn(dsn)) as conn:
            ids = [UUID(str(r["event_id"])) for r in matched]
            done = {row[0] for row in conn.execute(
                "select bad_event_id from behaviour_replayed where bad_event_id = any(%s)",
                (ids,)).fetchall()}
            conn.commit()
            todo = [r for r in matched if UUID(str(r["event_id"])) not in done]
            stats.already_replayed = len(matched) - len(todo)
            statuses: list[dict[str, Any]] = []
            good: list[tuple[int, dict[str, Any]]] = []
            kept: list[dict[str, Any]] = []  # bad events to record as replayed
            dropped: list[dict[str, Any]] = []
            for bad in todo:
                pseudo = bad.get("user_pseudo_id")
                if pseudo is not None and not pseudonyms.may_track(conn, pseudo):
                    dropped.append(bad)
                    continue
                p = prepare([_parse_one(bytes(bad["raw_payload"]))],
                            received_ms=_ms(bad["occurred_at"]),
                            rules=intake.rules, user_pseudo_id=pseudo)
                if p.bad:
                    still[p.bad[0].code] += 1
                    continue
                index = len(statuses)
                statuses.append({"index": index, "status": ACCEPTED})
                good.append((index, p.good[0][1]))
                kept.append(bad)
            conn.commit()
            stats.dropped = len(dropped)
            stats.still_invalid = dict(still)
            if dry_run:
                stats.replayed = len(good)
                return stats
            with conn.transaction():
                if good:
                    intake.deliver(conn, Prepared(statuses, good, []), 0, None,
                                   bad_events=False)
                rows = [(UUID(str(b["event_id"])), b.get("client_event_id"), b["reason"])
                        for b in [*kept, *dropped]]
                if rows:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "insert into behaviour_replayed (bad_event_id, client_event_id,"
                            " reason) values (%s, %s, %s) on conflict do nothing", rows)
            stats.replayed = sum(1 for st in statuses if st["status"] == ACCEPTED)
            stats.duplicate = sum(1 for st in statuses if st["status"] == DUPLICATE)
    finally:
        intake.close()
    return stats


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@click.command(help=__doc__)
@click.option("--reason", default=None, help="only bad events with this code")
@click.option("--since", default=None, help="only bad events received from this time (ISO)")
@click.option("--dry-run", is_flag=True, help="report what would be replayed; send nothing")
@click.option("--dsn", default=None, help="the core database (default: settings)")
@click.option("--bad-topic", default=None, help="default: analytics.bad_events")
@click.option("--raw-topic", default=None, help="default: analytics.raw")
def main(reason: str | None, since: str | None, dry_run: bool, dsn: str | None,
         bad_topic: str | None, raw_topic: str | None) -> None:
    log_redaction.install()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stats = replay(reason=reason, since=_since(since), dry_run=dry_run, dsn=dsn,
                   bad_topic=bad_topic, raw_topic=raw_topic)
    json.dump(asdict(stats), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
