"""Reading what the terminals put on Kafka, from offsets taken at a test's start."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pos_producer import wire
from schemas.registry import registry_client
from schemas.topics import Topic
from tests import kafka_reading


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


def end_offsets(topic: Topic) -> dict[int, int]:
    """Each partition's high watermark now: where a test's own records will start."""
    return kafka_reading.end_offsets(topic.name)


def read_since(topic: Topic, start: dict[int, int], keys: set[str]) -> list[Received]:
    """Every record of `topic` keyed by one of `keys` after `start`, in partition order."""
    out: list[Received] = []
    for msg in kafka_reading.messages_since(topic.name, start):
        key = (msg.key() or b"").decode()
        if key in keys:
            schema_id, body = wire.unframe(msg.value() or b"")
            headers = dict(msg.headers() or [])
            out.append(Received(
                msg.partition() or 0, msg.offset() or 0, key,
                {str(k): v if isinstance(v, bytes) else b"" for k, v in headers.items()},
                schema_id, wire.read_body(topic, body)))
    return out


def registered_id(topic: Topic) -> int:
    return wire.registered_schema_id(registry_client(), topic)
