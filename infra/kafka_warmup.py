"""Proving a (fresh) broker's coordinators work before `make up` calls Kafka ready.

A broker that answers metadata is not yet one that serves every client: on a freshly
formatted KRaft broker the first `InitProducerId` (every idempotent producer) answers
COORDINATOR_LOAD_IN_PROGRESS while the broker fetches its first producer-id block from the
controller, and the first consumer group waits until `__consumer_offsets` is created and
its partition loaded. Both normally settle within a second or two, but a health check that
only lists topics lets the first real producer and consumer pay for it (and race it).

`warm_up` does both paths end to end on a small platform-internal topic
(`WARMUP_TOPIC`, one partition, one hour of retention, never landed in the lake): an
idempotent, acks=all producer delivers one record, and a throwaway consumer group reads it
back from the start and commits its offset, retrying while the coordinator loads, within a
bounded time. Run by `Kafka.after_start` (so by `make up` and the tests' `stack` fixture).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

WARMUP_TOPIC = "platform.warmup"
WARMUP_GROUP = "platform-warmup"
# Errors that mean "the coordinator is not ready yet": retried until the deadline.
_RETRIABLE = {KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE,
              KafkaError.NOT_COORDINATOR, KafkaError.REBALANCE_IN_PROGRESS,
              KafkaError._WAIT_COORD, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
              KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.LEADER_NOT_AVAILABLE,
              KafkaError.NOT_LEADER_FOR_PARTITION}


@dataclass(frozen=True)
class WarmUp:
    topic_s: float  # the warm-up topic exists (created if missing)
    producer_s: float  # an idempotent producer got its producer id and delivered a record
    group_s: float  # a new consumer group read it from the start and committed its offset

    @property
    def total_s(self) -> float:
        return self.topic_s + self.producer_s + self.group_s

    def line(self) -> str:
        return (f"warm-up {self.total_s:.1f}s (topic {self.topic_s:.1f}s, idempotent producer"
                f" {self.producer_s:.1f}s, consumer group {self.group_s:.1f}s)")


class _Quiet:
    """librdkafka logs the retries this module exists to absorb; keep them out of `make up`."""

    def log(self, *args: object, **kwargs: object) -> None:
        pass

    def __getattr__(self, _name: str) -> Callable[..., None]:
        return lambda *a, **k: None


def warm_up(bootstrap: str, timeout: float = 90.0,
            say: Callable[[str], None] | None = None) -> WarmUp:
    """Block until an idempotent producer and a consumer group both work; TimeoutError
    (naming the step) otherwise."""
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    _ensure_topic(bootstrap, deadline)
    t1 = time.monotonic()
    if say:
        say("    kafka: warming up the producer-id path and the group coordinator")
    offset = _produce_one(bootstrap, deadline)
    t2 = time.monotonic()
    _consume_and_commit(bootstrap, offset, deadline)
    t3 = time.monotonic()
    done = WarmUp(round(t1 - t0, 2), round(t2 - t1, 2), round(t3 - t2, 2))
    if say:
        say(f"    kafka: {done.line()}")
    return done


def _left(deadline: float, step: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"kafka warm-up: {step} did not succeed in time")
    return left


def _ensure_topic(bootstrap: str, deadline: float) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": _Quiet()})  # type: ignore[dict-item]
    while True:
        _left(deadline, "creating the warm-up topic")
        try:
            if WARMUP_TOPIC in admin.list_topics(timeout=5).topics:
                return
            fut = admin.create_topics([NewTopic(
                WARMUP_TOPIC, num_partitions=1, replication_factor=1,
                config={"retention.ms": "3600000"})])[WARMUP_TOPIC]
            fut.result(timeout=10)
            return
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return
            time.sleep(0.2)


def _produce_one(bootstrap: str, deadline: float) -> int:
    """The offset of one record delivered by a new idempotent producer."""
    while True:
        left = _left(deadline, "the idempotent producer")
        producer = Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
            "message.timeout.ms": int(max(1000, min(left, 30) * 1000)),
            "logger": _Quiet(),  # type: ignore[dict-item]
        })
        reports: list[tuple[KafkaError | None, int]] = []

        def report(err: KafkaError | None, msg: Message, into: list[Any] = reports) -> None:
            into.append((err, msg.offset() or 0))

        producer.produce(WARMUP_TOPIC, key=b"warm-up", value=uuid.uuid4().bytes,
                         on_delivery=report)
        producer.flush(left)
        if reports and reports[0][0] is None:
            return reports[0][1]
        time.sleep(0.2)


def _consume_and_commit(bootstrap: str, offset: int, deadline: float) -> None:
    """A throwaway group: subscribe, read `offset` (from the start: auto.offset.reset
    earliest, as a consumer that must see what was produced before it joined), commit."""
    group = f"{WARMUP_GROUP}-{uuid.uuid4().hex[:8]}"
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
        "logger": _Quiet(),  # type: ignore[dict-item]
    })
    try:
        consumer.subscribe([WARMUP_TOPIC])
        seen = False
        while not seen:
            left = _left(deadline, "the consumer group (read back)")
            msg = consumer.poll(min(left, 1.0))
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() not in _RETRIABLE and err.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(err)
                continue
            seen = (msg.offset() or 0) >= offset
        while True:
            _left(deadline, "the consumer group (offset commit)")
            try:
                consumer.commit(offsets=[TopicPartition(WARMUP_TOPIC, 0, offset + 1)],
                                asynchronous=False)
                committed = consumer.committed([TopicPartition(WARMUP_TOPIC, 0)], timeout=10)
                if committed[0].offset == offset + 1:
                    return
            except KafkaException as exc:
                if exc.args[0].code() not in _RETRIABLE:
                    raise
            time.sleep(0.2)
    finally:
        consumer.close()
        admin = AdminClient({"bootstrap.servers": bootstrap, "logger": _Quiet()})  # type: ignore[dict-item]
        with contextlib.suppress(Exception):  # a throwaway group: not left on the broker
            admin.delete_consumer_groups([group], request_timeout=10)[group].result(timeout=10)
