"""The intake's Kafka side: one idempotent producer per process, framing, delivery waits.

Records are Avro (schemaless body from `behaviour.avro.compile_encoder`: generated code,
byte for byte what fastavro writes, ten times faster) in Confluent's wire format: magic
byte 0 + the 4-byte id the platform registered for the topic's subject (looked up, never
registered, like the outbox relay) + the body. `send()` returns only when Kafka
acknowledged every record (acks=all; delivery reports served by a poller thread), so a
caller can promise durability; any failure or timeout raises `KafkaUnavailable`.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from infra.settings import get_settings
from marketplace_core.behaviour.avro import compile_encoder
from schemas.topics import Topic, schema_str

log = logging.getLogger("marketplace_core.behaviour")


class KafkaUnavailable(RuntimeError):
    """Kafka (or the schema registry) did not take the records in time."""


def producer_config(bootstrap: str, delivery_timeout_s: float, linger_ms: int
                    ) -> dict[str, Any]:
    """The intake's producer settings (the benchmark's bare producer uses them too)."""
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms,
        "compression.type": "lz4",
        "batch.size": 1_000_000,
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        # Java clients' partitioner: one session's events land in one partition whoever
        # produces them.
        "partitioner": "murmur2_random",
    }


def schema_header(client: SchemaRegistryClient, topic: Topic) -> bytes:
    """Magic byte + the registry id of this build's schema of `topic`."""
    try:
        registered = client.lookup_schema(topic.subject, Schema(schema_str(topic), "AVRO"))
    except Exception as exc:
        raise KafkaUnavailable(f"{topic.subject}: schema not found in the registry: {exc}"
                               ) from exc
    if registered.schema_id is None:
        raise KafkaUnavailable(f"{topic.subject}: the registry returned no schema id")
    return struct.pack(">bI", 0, registered.schema_id)


class Encoder:
    """Framed Avro values of one topic: the header + the compiled encoder's body."""

    def __init__(self, topic: Topic, header: bytes) -> None:
        self._encode = compile_encoder(topic)
        self._header = header

    def __call__(self, record: dict[str, Any]) -> bytes:
        return self._encode(record, self._header)


class _Waiter:
    """Counts one batch's delivery reports (called on the poller thread only)."""

    __slots__ = ("done", "error", "pending")

    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.error: KafkaError | None = None
        self.done = threading.Event()
        if pending == 0:
            self.done.set()

    def __call__(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None and self.error is None:
            self.error = err
        self.pending -= 1
        if self.pending <= 0:
            self.done.set()


class Sender:
    """A process-wide producer and the thread that serves its delivery reports."""

    def __init__(self, bootstrap: str | None = None, *, delivery_timeout_s: float | None = None,
                 linger_ms: int | None = None) -> None:
        s = get_settings()
        self.delivery_timeout_s = (delivery_timeout_s if delivery_timeout_s is not None
                                   else s.events_delivery_timeout_seconds)
        self._producer = Producer(producer_config(
            bootstrap or s.kafka_bootstrap_servers, self.delivery_timeout_s,
            s.events_linger_ms if linger_ms is None else linger_ms))
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="events-kafka-poller",
                                        daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def send(self, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Produce (key, value) records and wait for every acknowledgement."""
        self.send_many([(topic, records)])

    def send_many(self, batches: Sequence[tuple[str, Sequence[tuple[bytes | None, bytes]]]]
                  ) -> None:
        waiter = _Waiter(sum(len(r) for _, r in batches))
        produce = self._producer.produce
        try:
            for topic, records in batches:
                for key, value in records:
                    while True:
                        try:
                            produce(topic, value, key, on_delivery=waiter)
                            break
                        except BufferError:  # local queue full: let the poller drain it
                            if self._stop.wait(0.01):
                                raise KafkaUnavailable("the intake is stopping") from None
        except KafkaException as exc:
            raise KafkaUnavailable(f"produce failed: {exc}") from exc
        if not waiter.done.wait(self.delivery_timeout_s + 5):
            raise KafkaUnavailable("Kafka did not acknowledge the batch in time")
        if waiter.error is not None:
            raise KafkaUnavailable(f"Kafka refused the batch: {waiter.error}")

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._poller.join(timeout=2)
        self._producer.flush(timeout)
