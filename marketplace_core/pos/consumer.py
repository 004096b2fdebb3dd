"""The POS ingest consumer: reads pos.sales and pos.heartbeats, applies each event to the
core exactly once, and dead-letters what it refuses.

How "exactly once" holds (the effect, not the delivery):

* Offsets are committed to Kafka only after the database transaction holding the batch's
  effects committed; a crash in between replays the batch.
* The consumer also keeps its own position per partition (`pos_ingest_offsets`) in that
  same transaction, and skips a replayed message below it. So a replay changes nothing at
  all: not the stock (that alone the unique (device_id, receipt_number) would already
  guarantee), and not the DUPLICATE_SALE / rejected counters or the dead letters either,
  which therefore count only what the devices really sent twice or wrongly.
* Each message is applied in a savepoint (`ingest.apply_*`): a bad event is dead-lettered
  and the batch goes on. A deadlock or a lost database connection rolls back the whole
  batch, which is retried (offsets untouched) until it commits or the consumer stops.

Refused and unreadable messages are stored in `pos_dead_letters` with the batch, then
published to pos.dead_letter (Avro, idempotent producer, acks=all) before the offsets are
committed; the same loop publishes the HTTP path's dead letters. A crash between the
publish and its `published_at` stamp publishes that dead letter again (at least once;
`dead_letter_id` tells copies apart).

Per device, at most `device_rate` events per second are applied (burst `device_burst`):
excess is delayed, never dropped. Heartbeats count as received at the broker's timestamp
when that is earlier than now, so a backlog read late does not make a silent terminal
look alive.

Run: `python -m marketplace_core.pos.consumer [--dsn ...] [--until-idle]`; SIGTERM finishes
the current batch, commits and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import click
import psycopg
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from infra.settings import get_settings
from marketplace_core.db import resolve_dsn
from marketplace_core.pos import ingest
from marketplace_core.pos import metrics as pos_metrics
from marketplace_core.pos.ratelimit import KAFKA_BURST, KAFKA_EVENTS_PER_SECOND, TokenBucketLimiter
from platform_common import log_redaction
from platform_common.metrics import serve_metrics
from schemas.registry import registry_client
from schemas.topics import POS_DEAD_LETTER, POS_HEARTBEATS, POS_SALES, schema_str

log = logging.getLogger("marketplace_core.pos.consumer")

GROUP_ID = "pos-ingest"
TOKEN_HEADER = "device-token"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LIVENESS_EVERY = 5.0
_LAG_EVERY = 5.0
_TRANSIENT = (psycopg.OperationalError, psycopg.errors.DeadlockDetected,
              psycopg.errors.SerializationFailure, psycopg.errors.LockNotAvailable,
              psycopg.errors.QueryCanceled)
# A batch that waits on a lock (or runs) longer than this is rolled back and retried, with
# a warning, instead of holding the partition silently past max.poll.interval.ms.
_SESSION_OPTIONS = "-c lock_timeout=15s -c statement_timeout=60s"


@dataclass
class IngestStats:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    replayed: int = 0  # messages below the stored position (already applied)
    batches: int = 0
    dead_letters_published: int = 0


class PosIngestConsumer:
    def __init__(
        self,
        dsn: str | None = None,
        *,
        group_id: str = GROUP_ID,
        sales_topic: str = POS_SALES.name,
        heartbeats_topic: str = POS_HEARTBEATS.name,
        dead_letter_topic: str = POS_DEAD_LETTER.name,
        batch_size: int = 500,
        device_rate: float = KAFKA_EVENTS_PER_SECOND,
        device_burst: int = KAFKA_BURST,
    ) -> None:
        s = get_settings()
        self.dsn = resolve_dsn(dsn)
        self.group_id = group_id
        self.sales_topic = sales_topic
        self.heartbeats_topic = heartbeats_topic
        self.dead_letter_topic = dead_letter_topic
        self.batch_size = batch_size
        self.stats = IngestStats()
        self.consumer_id = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self._bootstrap = s.kafka_bootstrap_servers
        self._limiter = TokenBucketLimiter(device_rate, device_burst)
        registry = registry_client()
        self._decoders = {
            sales_topic: AvroDeserializer(registry, schema_str(POS_SALES)),
            heartbeats_topic: AvroDeserializer(registry, schema_str(POS_HEARTBEATS)),
        }
        self._dead_letter_encoder = AvroSerializer(
            registry, schema_str(POS_DEAD_LETTER), conf={"auto.register.schemas": False})
        self._assigned = False
        self._conn: psycopg.Connection[Any] | None = None
        self._last_liveness = 0.0
        self._last_lag = 0.0
        self._lag_series: set[tuple[str, str]] = set()
        # What the batch in flight did (metrics, published once its transaction commits).
        self._batch_outcomes: dict[tuple[str, str], int] = defaultdict(int)
        self._batch_reasons: dict[str, int] = defaultdict(int)

    # --- lifecycle -----------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *,
            idle_exit_seconds: float | None = None) -> IngestStats:
        """Consume until `stop` is set, or (with `idle_exit_seconds`) until nothing arrived
        for that long after partitions were assigned."""
        stop = stop or threading.Event()
        consumer = Consumer({
            "bootstrap.servers": self._bootstrap,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "client.id": self.consumer_id,
            # A killed consumer's partitions move to the others after this long (the
            # broker's minimum); the default 45 s would stall the ingest that long.
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1500,
        })
        producer = Producer({"bootstrap.servers": self._bootstrap, "enable.idempotence": True,
                             "acks": "all", "linger.ms": 5})
        consumer.subscribe([self.sales_topic, self.heartbeats_topic],
                           on_assign=self._on_assign)
        idle_since: float | None = None  # counted from the assignment on
        try:
            while not stop.is_set():
                messages = [m for m in self._next_batch(consumer) if self._readable(m)]
                conn = self._connection()
                if messages:
                    self._throttle(messages, stop)
                    self._apply_batch(messages, stop)
                    idle_since = time.monotonic()
                self._publish_dead_letters(conn, producer)
                if messages:
                    self._commit(consumer, messages)
                self._liveness(conn)
                self._measure_lag(consumer)
                if self._assigned and idle_since is None:
                    idle_since = time.monotonic()
                if (idle_exit_seconds is not None and idle_since is not None and not messages
                        and time.monotonic() - idle_since >= idle_exit_seconds):
                    break
        finally:
            consumer.close()
            producer.flush(10)
            if self._conn is not None:
                self._conn.close()
        log.info("pos ingest stopped: %s", self.stats)
        return self.stats

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Start each partition at this consumer's own stored position when there is one.

        The stored position (`pos_ingest_offsets`, committed with the batch) is never behind
        the group's Kafka offset, and starting from it needs no OffsetFetch: librdkafka can
        leave a partition assigned but never fetching when that request fails as a whole
        while the group coordinator loads (confluentinc/librdkafka#5586), e.g. after a
        broker restart. Partitions without a stored position use the group's offset (or
        `auto.offset.reset`)."""
        self._assigned = True
        stored: dict[tuple[str, int], int] = {}
        try:
            conn = self._connection()
            with conn.transaction():
                stored = {(t, p): int(o) for t, p, o in conn.execute(
                    "select topic, partition, next_offset from pos_ingest_offsets"
                    " where topic = any(%s)", ([tp.topic for tp in partitions],))}
        except _TRANSIENT as exc:  # the group's offsets then; replays are skipped anyway
            log.warning("stored positions not read (%s); using the group's offsets", exc)
        for tp in partitions:
            if (tp.topic, tp.partition) in stored:
                tp.offset = stored[(tp.topic, tp.partition)]
        consumer.assign(partitions)
        log.info("assigned %d partitions (%d at their stored position)", len(partitions),
                 sum((tp.topic, tp.partition) in stored for tp in partitions))

    def _next_batch(self, consumer: Consumer) -> list[Message]:
        """Up to `batch_size` messages, waiting at most 50 ms.

        `consume(n, timeout)` only returns early when n messages are there, so the timeout
        is the batch window: 0.5 s added ~0.5 s to every sale's way to the shelf at a few
        sales per second (bench/pos_ingest.py)."""
        return list(consumer.consume(self.batch_size, timeout=0.05))

    @staticmethod
    def _readable(message: Message) -> bool:
        err = message.error()
        if err is None:
            return True
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", err)
        return False

    def _connection(self) -> psycopg.Connection[Any]:
        while self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.dsn, options=_SESSION_OPTIONS)
            except psycopg.OperationalError as exc:
                log.warning("database unreachable (%s); retrying", exc)
                time.sleep(1)
        return self._conn

    # --- one batch -------------------------------------------------------------------------

    def _throttle(self, messages: list[Message], stop: threading.Event) -> None:
        per_device: dict[bytes, int] = defaultdict(int)
        for m in messages:
            per_device[m.key() or b""] += 1
        wait = max(self._limiter.reserve(key.hex(), n) for key, n in per_device.items())
        if wait > 0:
            log.info("device rate limit: delaying the batch %.2fs", wait)
            stop.wait(wait)

    def _apply_batch(self, messages: list[Message], stop: threading.Event) -> None:
        delay = 0.5
        while True:
            conn = self._connection()
            started = time.monotonic()
            try:
                with conn.transaction():
                    counts = self._apply_in_transaction(conn, messages)
            except _TRANSIENT as exc:
                if stop.is_set():
                    raise
                log.warning("batch rolled back (%s); retrying", type(exc).__name__)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            break
        self.stats.batches += 1
        self.stats.applied += counts["applied"]
        self.stats.duplicates += counts["duplicate"]
        self.stats.rejected += counts["rejected"]
        self.stats.replayed += counts["replayed"]
        # Counted once committed: a rolled-back batch is retried and must not count twice.
        pos_metrics.BATCH_SECONDS.set(time.monotonic() - started)
        for (topic, outcome), n in self._batch_outcomes.items():
            pos_metrics.EVENTS.labels(topic, outcome).inc(n)
        for reason, n in self._batch_reasons.items():
            pos_metrics.REJECTED.labels(reason).inc(n)

    def _apply_in_transaction(self, conn: psycopg.Connection[Any],
                              messages: list[Message]) -> dict[str, int]:
        partitions = sorted({(m.topic(), m.partition()) for m in messages})
        for topic, partition in partitions:  # lock order: sorted, so consumers never deadlock
            conn.execute("insert into pos_ingest_offsets (topic, partition, next_offset)"
                         " values (%s, %s, 0) on conflict do nothing", (topic, partition))
        rows = conn.execute(
            "select topic, partition, next_offset from pos_ingest_offsets"
            " where (topic, partition) in (select * from unnest(%s::text[], %s::int[]))"
            " order by topic, partition for update",
            ([t for t, _ in partitions], [p for _, p in partitions])).fetchall()
        position = {(r[0], r[1]): int(r[2]) for r in rows}
        counts: dict[str, int] = defaultdict(int)
        self._batch_outcomes = defaultdict(int)
        self._batch_reasons = defaultdict(int)
        now = datetime.now(UTC)
        for m in messages:
            tp = (m.topic(), m.partition())
            offset = m.offset() or 0
            if offset < position[tp]:
                counts["replayed"] += 1
                self._batch_outcomes[(m.topic() or "", "replayed")] += 1
                continue
            outcome = self._apply_one(conn, m, now)
            counts[outcome.status] += 1
            self._batch_outcomes[(m.topic() or "", outcome.status)] += 1
            if outcome.status == "rejected":
                self._batch_reasons[outcome.reason or "unknown"] += 1
            position[tp] = offset + 1
        for (topic, partition), next_offset in position.items():
            conn.execute("update pos_ingest_offsets set next_offset = %s, updated_at = now()"
                         " where topic = %s and partition = %s", (next_offset, topic, partition))
        return counts

    def _apply_one(self, conn: psycopg.Connection[Any], m: Message,
                   now: datetime) -> ingest.Outcome:
        topic = m.topic() or ""
        raw = m.value() or b""
        origin = ingest.Origin("kafka", raw, topic=topic, partition=m.partition(),
                               offset=m.offset())
        key = m.key()
        key_device = key.decode(errors="replace") if key else None
        token = _header(m, TOKEN_HEADER)
        try:
            record = self._decoders[topic](raw, SerializationContext(topic, MessageField.VALUE))
        except Exception as exc:  # anything unreadable is a dead letter, never a crash
            return ingest.reject_undecodable(conn, origin, f"{type(exc).__name__}: {exc}", now,
                                             device_id=key_device)
        if not isinstance(record, dict):
            return ingest.reject_undecodable(conn, origin, "empty message", now,
                                             device_id=key_device)
        if topic == self.sales_topic:
            return ingest.apply_till_event(conn, record, token=token, origin=origin, now=now)
        return ingest.apply_heartbeat(conn, record, token=token, origin=origin, now=now,
                                      heard_at=_broker_time(m))

    # --- after the commit ----------------------------------------------------------------

    def _commit(self, consumer: Consumer, messages: list[Message]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for m in messages:
            tp = (m.topic() or "", m.partition() or 0)
            next_offsets[tp] = max(next_offsets.get(tp, 0), (m.offset() or 0) + 1)
        try:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in
                                     sorted(next_offsets.items())], asynchronous=False)
        except Exception as exc:  # a rebalance; the stored positions make replay harmless
            log.warning("offset commit failed (%s); the next owner skips what is applied", exc)

    def _publish_dead_letters(self, conn: psycopg.Connection[Any], producer: Producer) -> None:
        try:
            with conn.transaction():
                rows = conn.execute(
                    "select id, reason_code, message, source, source_topic, source_partition,"
                    " source_offset, device_id, receipt_number, raw_value, detected_at"
                    " from pos_dead_letters where published_at is null"
                    " order by detected_at, id limit 500 for update skip locked").fetchall()
                if not rows:
                    return
                delivered: list[UUID] = []
                ctx = SerializationContext(self.dead_letter_topic, MessageField.VALUE)
                for row in rows:
                    record = dict(zip(
                        ("dead_letter_id", "reason_code", "message", "source", "source_topic",
                         "source_partition", "source_offset", "device_id", "receipt_number",
                         "raw_value", "detected_at"), row, strict=True))
                    record["dead_letter_id"] = str(record["dead_letter_id"])
                    record["raw_value"] = bytes(record["raw_value"])
                    producer.produce(
                        self.dead_letter_topic, value=self._dead_letter_encoder(record, ctx),
                        key=record["device_id"].encode() if record["device_id"] else None,
                        on_delivery=_on_delivery(delivered, row[0]))
                producer.flush(10)
                if delivered:
                    conn.execute("update pos_dead_letters set published_at = now()"
                                 " where id = any(%s)", (delivered,))
                self.stats.dead_letters_published += len(delivered)
        except _TRANSIENT as exc:
            log.warning("dead letters not published now (%s); next round", exc)

    def _measure_lag(self, consumer: Consumer) -> None:
        """Consumer lag per assigned partition, from the high watermark the fetcher last
        saw (cached: no broker round trip) and this consumer's position."""
        if time.monotonic() - self._last_lag < _LAG_EVERY:
            return
        self._last_lag = time.monotonic()
        try:
            assigned = consumer.assignment()
            positions = consumer.position(assigned) if assigned else []
        except Exception as exc:  # a rebalance in progress: next round
            log.debug("lag not measured (%s)", exc)
            return
        seen = set()
        for tp in positions:
            try:
                _low, high = consumer.get_watermark_offsets(tp, cached=True)
            except Exception:
                continue
            if high is None or high < 0 or tp.offset < 0:
                continue  # nothing fetched yet from this partition
            key = (tp.topic, str(tp.partition))
            seen.add(key)
            pos_metrics.CONSUMER_LAG.labels(*key).set(max(high - tp.offset, 0))
        for key in self._lag_series - seen:  # revoked partitions are another consumer's
            pos_metrics.CONSUMER_LAG.remove(*key)
        self._lag_series = seen

    def _liveness(self, conn: psycopg.Connection[Any]) -> None:
        if time.monotonic() - self._last_liveness < _LIVENESS_EVERY:
            return
        self._last_liveness = time.monotonic()
        processed = self.stats.applied + self.stats.duplicates + self.stats.rejected
        try:
            with conn.transaction():
                conn.execute(
                    "insert into pos_ingest_consumers (consumer_id, group_id, pid, started_at,"
                    " heartbeat_at, processed) values (%s, %s, %s, now(), now(), %s)"
                    " on conflict (consumer_id) do update set heartbeat_at = now(),"
                    " processed = excluded.processed",
                    (self.consumer_id, self.group_id, os.getpid(), processed))
        except _TRANSIENT as exc:
            log.warning("liveness not recorded (%s)", exc)


def _on_delivery(delivered: list[UUID], dead_letter_id: UUID) -> Any:
    def callback(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            delivered.append(dead_letter_id)
        else:
            log.warning("dead letter %s not delivered: %s", dead_letter_id, err)
    return callback


def _header(m: Message, name: str) -> str | None:
    headers: list[tuple[str, Any]] = list(m.headers() or [])  # type: ignore[arg-type]
    for key, value in headers:
        if key == name and value:
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return None


def _broker_time(m: Message) -> datetime | None:
    kind, millis = m.timestamp()
    if kind == 0 or millis is None or millis <= 0:  # TIMESTAMP_NOT_AVAILABLE
        return None
    return _EPOCH + timedelta(milliseconds=millis)


def consumer_alive(dsn: str | None = None, within_seconds: float = 30.0) -> tuple[bool, str]:
    """Health: some ingest consumer recorded liveness recently (and how much it applied)."""
    with psycopg.connect(resolve_dsn(dsn), connect_timeout=3) as conn:
        row = conn.execute(
            "select count(*), coalesce(sum(processed), 0) from pos_ingest_consumers"
            " where heartbeat_at > now() - make_interval(secs => %s)",
            (within_seconds,)).fetchone()
    live, processed = (int(row[0]), int(row[1])) if row else (0, 0)
    return live > 0, f"{live} live consumer(s), {processed} events processed"


@click.command()
@click.option("--dsn", default=None, help="Core database (default: the settings').")
@click.option("--until-idle", is_flag=True, help="Exit once nothing arrives for a while.")
@click.option("--idle-seconds", default=3.0, show_default=True)
@click.option("--group", "group_id", default=GROUP_ID, show_default=True)
@click.option("--sales-topic", default=POS_SALES.name, show_default=True)
@click.option("--heartbeats-topic", default=POS_HEARTBEATS.name, show_default=True)
@click.option("--dead-letter-topic", default=POS_DEAD_LETTER.name, show_default=True)
@click.option("--batch-size", default=500, show_default=True)
@click.option("--device-rate", default=KAFKA_EVENTS_PER_SECOND, show_default=True,
              help="Events per second applied per device (excess is delayed).")
@click.option("--device-burst", default=KAFKA_BURST, show_default=True)
def main(dsn: str | None, until_idle: bool, idle_seconds: float, group_id: str,
         sales_topic: str, heartbeats_topic: str, dead_letter_topic: str, batch_size: int,
         device_rate: float, device_burst: int) -> None:
    """Apply POS till events and heartbeats from Kafka to the core, exactly once."""
    log_redaction.install()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve_metrics(get_settings().pos_ingest_metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stats = PosIngestConsumer(
        dsn, group_id=group_id, sales_topic=sales_topic, heartbeats_topic=heartbeats_topic,
        dead_letter_topic=dead_letter_topic, batch_size=batch_size, device_rate=device_rate,
        device_burst=device_burst,
    ).run(stop, idle_exit_seconds=idle_seconds if until_idle else None)
    click.echo(f"applied={stats.applied} duplicates={stats.duplicates} "
               f"rejected={stats.rejected} replayed={stats.replayed} "
               f"dead_letters_published={stats.dead_letters_published}")


if __name__ == "__main__":
    main()
