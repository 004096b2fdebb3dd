"""Reading what the terminals put on Kafka, from offsets taken at a test's start."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from infra.settings import get_settings
from pos_producer import wire
from schemas.registry import registry_client
from schemas.topics import Topic


def test_device_id() -> str:
    """A device id of the POS-9xxxxxxx range, unique enough for one test run."""
    return f"POS-9{random.randrange(10**7):07d}"


test_device_id.__test__ = False  # type: ignore[attr-defined]  # not a test function


@dataclass(frozen=True)
class Received:
    partition: int
    offset: int
    key: str
    headers: dict[str, bytes]
    schema_id: int
    record: dict[str, Any]


def _consumer() -> Consumer:
    return Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                     "group.id": f"test-pos-producer-{random.getrandbits(64):x}",
                     "enable.auto.commit": False, "enable.partition.eof": True})


def end_offsets(topic: Topic) -> dict[int, int]:
    """Each partition's high watermark now: where a test's own records will start."""
    consumer = _consumer()
    try:
        meta = consumer.list_topics(topic.name, timeout=10).topics[topic.name]
        return {p: consumer.get_watermark_offsets(TopicPartition(topic.name, p), timeout=10)[1]
                for p in meta.partitions}
    finally:
        consumer.close()


def read_since(topic: Topic, start: dict[int, int], keys: set[str]) -> list[Received]:
    """Every record of `topic` keyed by one of `keys` after `start`, in partition order."""
    consumer = _consumer()
    out: list[Received] = []
    try:
        for partition, low in sorted(start.items()):
            tp = TopicPartition(topic.name, partition)
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic.name, partition, low)])
            while True:
                msg = consumer.poll(10)
                assert msg is not None, "timed out reading the topic"
                err = msg.error()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err
                    break
                key = (msg.key() or b"").decode()
                if key in keys:
                    schema_id, body = wire.unframe(msg.value() or b"")
                    headers = dict(msg.headers() or [])
                    out.append(Received(
                        partition, msg.offset() or 0, key,
                        {str(k): v if isinstance(v, bytes) else b"" for k, v in headers.items()},
                        schema_id, wire.read_body(topic, body)))
                if (msg.offset() or 0) >= high - 1:
                    break
            consumer.unassign()
    finally:
        consumer.close()
    return out


def registered_id(topic: Topic) -> int:
    return wire.registered_schema_id(registry_client(), topic)
