"""The notifications worker (service `notifications-worker`): consumes notify.*, queues
each event for its recipients, and delivers the queue.

    python -m marketplace_core.notifications.worker

Two loops in one process:
* the consumer reads a batch from Kafka, queues it (`log.enqueue`) in ONE database
  transaction, and commits the Kafka offsets only after that transaction committed. A
  crash in between replays the batch, and `enqueue` finds the rows it already wrote
  (unique event, recipient, channel): nothing is queued twice. A record that cannot be
  read or used is logged with its topic, partition and offset and skipped: one bad
  message never stops the stream.
* the dispatcher claims due rows (woken by NOTIFY, or every NOTIFY_POLL_SECONDS for
  retries that came due) and runs one attempt each (`dispatch.attempt`); it also recovers
  rows a dead worker left `sending` and writes the heartbeat the health check reads.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from prometheus_client import Counter

from infra.settings import get_settings
from marketplace_core.db import resolve_dsn
from marketplace_core.notifications import dispatch
from marketplace_core.notifications import log as nlog
from marketplace_core.notifications.channels import Providers, default_providers
from platform_common.metrics import serve_metrics
from schemas.registry import registry_client
from schemas.topics import NOTIFY_TOPICS, Topic, schema_str

log = logging.getLogger("marketplace_core.notifications.worker")

WORKER_NAME = "notifications-worker"
BATCH = 200


# Prometheus (issue 11 §6), served on NOTIFICATIONS_WORKER_METRICS_PORT.
ATTEMPTS = Counter("notification_attempts", "Delivery attempts, by outcome.", ["outcome"])


@dataclass
class WorkerStats:
    consumed: int = 0
    queued: int = 0
    skipped: int = 0
    attempts: int = 0
    outcomes: dict[str, int] | None = None

    def count(self, outcome: str) -> None:
        self.outcomes = self.outcomes or {}
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class NotificationsWorker:
    def __init__(self, dsn: str | None = None, *, providers: Providers | None = None,
                 topics: Iterable[Topic] = NOTIFY_TOPICS, group_id: str = WORKER_NAME,
                 offset_reset: str = "earliest", clock: Callable[[], datetime] | None = None,
                 consume: bool = True,
                 start_offsets: dict[tuple[str, int], int] | None = None) -> None:
        self.dsn = resolve_dsn(dsn)
        self.providers = providers or default_providers()
        self.topics = list(topics)
        self.group_id = group_id
        self.offset_reset = offset_reset
        self.clock = clock or (lambda: datetime.now(UTC))
        self.consume = consume
        self.stats = WorkerStats()
        self.assigned = threading.Event()
        # Where a new consumer group starts per partition (tests and benchmarks read only
        # what they produce); None: the committed offsets, else `offset_reset`.
        self.start_offsets = start_offsets
        self._deserializers: dict[str, AvroDeserializer] = {}

    # --- the service ----------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> WorkerStats:
        stop = stop or threading.Event()
        dispatchers = [threading.Thread(target=self._dispatch_loop, args=(stop, n == 0),
                                        name=f"notify-dispatch-{n}", daemon=True)
                       for n in range(get_settings().notify_dispatch_threads)]
        for thread in dispatchers:
            thread.start()
        try:
            while self.consume and not stop.is_set():
                try:
                    self._consume_loop(stop)
                except Exception:
                    log.exception("consumer failed; reconnecting from the committed offsets")
                    stop.wait(2.0)
            stop.wait()
        finally:
            stop.set()
            for thread in dispatchers:
                thread.join(timeout=30)
        return self.stats

    # --- consuming -----------------------------------------------------------------------

    def _consume_loop(self, stop: threading.Event) -> None:
        s = get_settings()
        registry = registry_client()
        self._deserializers = {t.name: AvroDeserializer(registry, schema_str(t))
                               for t in self.topics}
        consumer = Consumer({
            "bootstrap.servers": s.kafka_bootstrap_servers,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": self.offset_reset,
            # only what the outbox relay's transactions committed
            "isolation.level": "read_committed",
        })
        consumer.subscribe([t.name for t in self.topics], on_assign=self._on_assign)
        try:
            with psycopg.connect(self.dsn) as conn:
                while not stop.is_set():
                    messages = consumer.consume(BATCH, timeout=0.5)
                    readable = [m for m in messages if self._readable(m)]
                    if not readable:
                        continue
                    self.apply(conn, readable)
                    offsets: dict[tuple[str, int], int] = {}
                    for m in readable:
                        offsets[(str(m.topic()), int(m.partition() or 0))] = \
                            int(m.offset() or 0) + 1
                    consumer.commit(offsets=[TopicPartition(t, p, o)
                                             for (t, p), o in offsets.items()],
                                    asynchronous=False)
        finally:
            consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.start_offsets is not None:
            for p in partitions:
                p.offset = self.start_offsets.get((p.topic, p.partition), p.offset)
            consumer.assign(partitions)
        self.assigned.set()

    @staticmethod
    def _readable(m: Message) -> bool:
        err = m.error()
        if err is None:
            return True
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("kafka: %s", err)
        return False

    def decode(self, m: Message) -> nlog.NotifyEvent | None:
        where = f"{m.topic()}[{m.partition()}]@{m.offset()}"
        try:
            record = self._deserializers[str(m.topic())](
                m.value(), SerializationContext(str(m.topic()), MessageField.VALUE))
            if not isinstance(record, dict):
                raise ValueError("not a record")
            return nlog.NotifyEvent.from_record(record)
        except Exception as exc:
            log.warning("unreadable notification at %s skipped: %s", where, type(exc).__name__)
            return None

    def apply(self, conn: psycopg.Connection[Any], messages: list[Message]) -> int:
        """Queue a batch in one transaction (committed on return)."""
        events = [(m, self.decode(m)) for m in messages]
        queued = 0
        now = self.clock()
        with conn.transaction():
            for m, event in events:
                self.stats.consumed += 1
                if event is None:
                    self.stats.skipped += 1
                    continue
                try:
                    with conn.transaction():  # a savepoint: one bad event stays alone
                        queued += len(nlog.enqueue(conn, event, now, wake=False))
                except (psycopg.errors.DataError, psycopg.errors.IntegrityError,
                        ValueError, KeyError) as exc:
                    self.stats.skipped += 1
                    log.warning("notification %s at %s[%s]@%s skipped: %s", event.event_id,
                                m.topic(), m.partition(), m.offset(), type(exc).__name__)
            if queued:  # wake the dispatchers once per batch, at commit
                conn.execute("select pg_notify('notifications', '')")
        self.stats.queued += queued
        return queued

    # --- dispatching ---------------------------------------------------------------------

    def dispatch_once(self, conn: psycopg.Connection[Any] | None = None, *,
                      limit: int = 20) -> int:
        """Claim and attempt what is due now; returns how many rows were attempted."""
        own = conn is None
        connection = conn or psycopg.connect(self.dsn, autocommit=True)
        try:
            with connection.transaction():
                rows = nlog.claim_due(connection, self.clock(), limit)
            for row in rows:
                outcome = dispatch.attempt(connection, row, self.providers, self.clock())
                self.stats.attempts += 1
                self.stats.count(outcome)
                ATTEMPTS.labels(outcome).inc()
            return len(rows)
        finally:
            if own:
                connection.close()

    def recover(self, conn: psycopg.Connection[Any]) -> int:
        idempotent = {c for c in ("push", "email", "sms")
                      if getattr(self.providers.for_channel(c), "idempotent", False)}
        stale = timedelta(seconds=3 * get_settings().notify_provider_timeout_seconds + 30)
        now = self.clock()
        with conn.transaction():
            return nlog.recover_interrupted(conn, idempotent, now - stale, now)

    def _dispatch_loop(self, stop: threading.Event, lead: bool = True) -> None:
        """One dispatcher; the `lead` one also recovers stale rows and writes the beat."""
        poll = get_settings().notify_poll_seconds
        last_beat = 0.0
        while not stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn, \
                        psycopg.connect(self.dsn, autocommit=True) as listener:
                    listener.execute("listen notifications")
                    if lead:
                        self.recover(conn)
                    while not stop.is_set():
                        if lead and time.monotonic() - last_beat > 5:
                            self._beat(conn)
                            last_beat = time.monotonic()
                        if self.dispatch_once(conn):
                            continue
                        for _ in listener.notifies(timeout=poll, stop_after=1):
                            pass
            except Exception:
                log.exception("dispatcher failed; starting again")
                stop.wait(2.0)

    def _beat(self, conn: psycopg.Connection[Any]) -> None:
        detail = (f"consumed {self.stats.consumed}, queued {self.stats.queued}, "
                  f"attempts {self.stats.attempts}")
        conn.execute(
            "insert into notification_worker_heartbeat (worker, beat_at, detail)"
            " values (%s, now(), %s) on conflict (worker) do update"
            " set beat_at = excluded.beat_at, detail = excluded.detail", (WORKER_NAME, detail))


def end_offsets(topics: Iterable[Topic] = NOTIFY_TOPICS) -> dict[tuple[str, int], int]:
    """The current end of each partition of `topics` (where "from now on" starts)."""
    consumer = Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "group.id": "notifications-end-offsets", "enable.auto.commit": False})
    try:
        out: dict[tuple[str, int], int] = {}
        for topic in topics:
            meta = consumer.list_topics(topic.name, timeout=10).topics[topic.name]
            for partition in meta.partitions:
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic.name, partition), timeout=10)
                out[(topic.name, partition)] = high
        return out
    finally:
        consumer.close()


def worker_alive(dsn: str | None = None, within_seconds: float = 30.0) -> tuple[bool, str]:
    with psycopg.connect(resolve_dsn(dsn), connect_timeout=3) as conn:
        row = conn.execute("select extract(epoch from now() - beat_at), detail"
                           " from notification_worker_heartbeat where worker = %s",
                           (WORKER_NAME,)).fetchone()
    if row is None:
        return False, "starting (no heartbeat yet)"
    age = float(row[0])
    return age < within_seconds, f"{row[1]}; heartbeat {age:.0f}s ago"


@click.command()
@click.option("--dsn", default=None, help="Core database (default: the settings').")
def main(dsn: str | None) -> None:
    """Deliver notify.* events until SIGTERM."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_metrics(get_settings().notifications_worker_metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    NotificationsWorker(dsn).run(stop)


if __name__ == "__main__":
    main()
