"""Draining a terminal's outbox into Kafka, and a direct producer for tools and tests.

`OutboxSender` produces a device's unsent events in sequence order with an idempotent
producer (enable.idempotence, acks=all, key = device id, so one partition per device) and
marks a row delivered only from its delivery report. It works in batches and waits for a
batch's last report before producing the next one. That is what keeps a device's order
when the broker is away: librdkafka fails a message after `message.timeout.ms`, and if it
held messages queued at different times, those queued later could still be delivered
after the broker returns, ahead of the earlier ones we produce again (the "gap" the
librdkafka idempotence docs describe). A batch is queued at one instant, so it times out
as a whole; its rows stay unsent and the next batch starts again from the oldest unsent
row. The till never waits for any of this: recording only touches SQLite.

The value is Confluent-framed Avro for the schema the platform registered (looked up,
never registered: auto-register is off for terminals).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from pos_producer import wire
from pos_producer.config import DeviceConfig
from pos_producer.events import PosSale
from pos_producer.outbox import Delivery, Failure, Outbox, OutboxRow
from pos_producer.settings import get_pos_settings
from schemas.topics import POS_HEARTBEATS, POS_SALES, Topic

log = logging.getLogger(__name__)

TOKEN_HEADER = "device-token"
TOPICS: dict[str, Topic] = {t.name: t for t in (POS_SALES, POS_HEARTBEATS)}
DEFAULT_BATCH = 500
_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)
# After the registry could not be reached, wait this long before asking again.
REGISTRY_RETRY_SECONDS = 5.0


def registry_client() -> SchemaRegistryClient:
    """A client of the schema registry at the terminal's `SCHEMA_REGISTRY_URL` (one per
    address, with a timeout: the client's default is none, and a registry that stops
    answering would hang the till's sender forever)."""
    return _registry_client(get_pos_settings().schema_registry_url)


@cache
def _registry_client(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url, "timeout": 15})


def producer_config(extra: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """Settings every POS producer shares: idempotent, acks=all, ordered per partition."""
    return {
        "bootstrap.servers": get_pos_settings().kafka_bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "max.in.flight.requests.per.connection": 5,  # the most idempotence keeps ordered
        "linger.ms": 5,
        "compression.type": "zstd",
        **overrides,
        **(extra or {}),
    }


class OutboxSender:
    """Sends one device's outbox. Thread-safe: `step` is serialised by a lock."""

    def __init__(
        self,
        outbox: Outbox,
        config: DeviceConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        registry: SchemaRegistryClient | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.outbox = outbox
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._registry = registry
        self._batch_size = batch_size
        self._lock = threading.RLock()
        self._key = StringSerializer("utf_8")(config.device_id)
        self._headers: list[tuple[str, str | bytes | None]] = [
            (TOKEN_HEADER, config.token.encode())]
        self._schema_ids: dict[str, int] = {}
        self._registry_retry_at = 0.0
        self._in_flight: set[int] = set()
        self._delivered: list[Delivery] = []
        self._failed: list[Failure] = []
        self._fatal: KafkaError | None = None
        self.last_error: str | None = None
        self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        return Producer(producer_config(
            dict(self.config.producer_config),
            **{
                "client.id": f"pos-producer-{self.config.device_id}",
                "message.timeout.ms": self.config.message_timeout_ms,
                "error_cb": self._on_error,
            },
        ))

    # --- the loop body -----------------------------------------------------------------

    def step(self, timeout: float = 0.0) -> int:
        """Produce the next batch if the previous one is settled, serve delivery reports
        for up to `timeout` seconds and record them; returns how many rows were marked."""
        with self._lock:
            if self._fatal is not None:
                self._restart_producer()
            if not self._in_flight:
                self._produce_batch()
            self._producer.poll(timeout)
            return self._settle()

    def flush(self, timeout: float = 30.0) -> int:
        """Send until the outbox is empty or `timeout` passes; returns what is left."""
        deadline = time.monotonic() + timeout
        while True:
            self.step(0.0)
            left = self.outbox.pending(self.config.device_id)
            remaining = deadline - time.monotonic()
            if left == 0 or remaining <= 0:
                return left
            self.step(min(0.1, remaining))

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def close(self, timeout: float = 1.0) -> None:
        """Serve the reports that arrive within `timeout`; anything else stays unsent."""
        with self._lock:
            deadline = time.monotonic() + timeout
            while self._in_flight and time.monotonic() < deadline:
                self._producer.poll(0.05)
                self._settle()
            self._producer.purge()
            self._producer.poll(0)
            self._settle()

    # --- internals ---------------------------------------------------------------------

    def _produce_batch(self) -> None:
        rows = self.outbox.unsent(self.config.device_id, self._batch_size)
        if not rows or not self._resolve_schema_ids({r.topic for r in rows}):
            return
        for row in rows:
            try:
                self._produce(row)
            except BufferError:
                # librdkafka's queue is full: what is queued keeps its order; the rest of
                # the batch waits for the next one (rows stay unsent in the outbox).
                break
            except KafkaException as exc:
                self.last_error = str(exc)
                log.warning("%s: produce failed: %s", self.config.device_id, exc)
                break

    def _produce(self, row: OutboxRow) -> None:
        topic = TOPICS[row.topic]
        sequence = row.sequence_number
        self._producer.produce(
            topic.name,
            key=self._key,
            value=wire.frame(self._schema_ids[topic.name], row.body),
            headers=self._headers,
            on_delivery=lambda err, msg: self._on_delivery(sequence, err, msg),
        )
        self._in_flight.add(sequence)

    def _on_delivery(self, sequence: int, err: KafkaError | None, msg: Message) -> None:
        # Runs inside poll(), under self._lock; SQLite is written after poll returns.
        self._in_flight.discard(sequence)
        if err is not None and err.code() in _PURGED:
            return  # we purged it on close or restart; it simply stays unsent
        if err is None:
            self._delivered.append(Delivery(
                self.config.device_id, sequence, msg.partition() or 0, msg.offset() or 0))
        else:
            self._failed.append(Failure(self.config.device_id, sequence, str(err)))

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
        self.last_error = str(err)

    def _settle(self) -> int:
        delivered, self._delivered = self._delivered, []
        failed, self._failed = self._failed, []
        if failed:
            self.last_error = failed[-1].error
            log.info("%s: %d event(s) not delivered, kept for a later attempt: %s",
                     self.config.device_id, len(failed), failed[-1].error)
        marked = self.outbox.mark_delivered(delivered, self._clock())
        self.outbox.mark_failed(failed)
        return marked

    def _restart_producer(self) -> None:
        """A fatal idempotence error ends a producer; a new one starts from the outbox."""
        log.warning("%s: producer fatal error (%s); starting a new one",
                    self.config.device_id, self._fatal)
        self._producer.purge()
        self._producer.poll(0)
        self._in_flight.clear()
        self._delivered.clear()
        self._failed.clear()
        self._fatal = None
        self._producer = self._new_producer()

    def _resolve_schema_ids(self, topics: set[str]) -> bool:
        missing = [name for name in topics if name not in self._schema_ids]
        for name in missing:
            cache_key = f"schema_id:{TOPICS[name].subject}:{wire.schema_fingerprint(TOPICS[name])}"
            cached = self.outbox.get_meta(cache_key)
            if cached is not None:
                self._schema_ids[name] = int(cached)
                continue
            if time.monotonic() < self._registry_retry_at:
                return False
            try:
                schema_id = wire.registered_schema_id(
                    self._registry or registry_client(), TOPICS[name])
            except Exception as exc:  # unreachable or not registered yet: try again later
                self._registry_retry_at = time.monotonic() + REGISTRY_RETRY_SECONDS
                self.last_error = f"schema registry: {exc}"
                log.warning("%s: %s", self.config.device_id, self.last_error)
                return False
            self._schema_ids[name] = schema_id
            self.outbox.set_meta(cache_key, str(schema_id))
        return True


class DeliveryError(RuntimeError):
    """Events the broker did not acknowledge."""


class PosSaleProducer:
    """Till events straight to `pos.sales`, without an outbox: for demos and tests that need
    to control exactly what Kafka holds (a duplicate delivery, a corrupt record)."""

    def __init__(self, extra_config: dict[str, object] | None = None) -> None:
        from confluent_kafka.schema_registry.avro import AvroSerializer

        from schemas.topics import schema_str

        self._producer = Producer(producer_config(dict(extra_config or {})))
        self._value = AvroSerializer(
            registry_client(),
            schema_str(POS_SALES),
            conf={"auto.register.schemas": False, "use.latest.version": False},
        )
        self._key = StringSerializer("utf_8")
        self._errors: list[str] = []

    def send(self, sale: PosSale, *, token: str | None = None) -> None:
        ctx = SerializationContext(POS_SALES.name, MessageField.VALUE)
        self._producer.produce(
            POS_SALES.name,
            key=self._key(sale.device_id),
            value=self._value(sale.to_record(), ctx),
            headers=[(TOKEN_HEADER, token.encode())] if token else None,
            on_delivery=self._on_delivery,
        )
        self._producer.poll(0)

    def send_raw(self, key: bytes | None, value: bytes) -> None:
        """Bytes as they are (tests use it to send corrupt events through the real path)."""
        self._producer.produce(POS_SALES.name, key=key, value=value,
                               on_delivery=self._on_delivery)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} event(s) not acknowledged within {timeout}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError("; ".join(errors))

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")
