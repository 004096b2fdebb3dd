"""Fixtures for the behavioural event intake: its own Kafka topics and a reader."""

from __future__ import annotations

import contextlib
import io
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import fastavro
import orjson
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from infra.settings import get_settings
from marketplace_core.behaviour.intake import EventIntake
from schemas.registry import register, registry_client
from schemas.topics import ANALYTICS_BAD_EVENTS, ANALYTICS_RAW
from tests.kafka_reading import end_offsets as end_offsets
from tests.kafka_reading import messages_since


@dataclass(frozen=True)
class Topics:
    raw: str
    bad: str


@pytest.fixture(scope="session")
def event_topics() -> Iterator[Topics]:
    """Fresh topics standing in for analytics.raw and analytics.bad_events (deleted after),
    with the catalog's schemas registered (what `make up` does)."""
    register(ANALYTICS_RAW)
    register(ANALYTICS_BAD_EVENTS)
    admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    suffix = secrets.token_hex(4)
    topics = Topics(f"test.analytics.raw.{suffix}", f"test.analytics.bad.{suffix}")
    for f in admin.create_topics([NewTopic(topics.raw, 6, 1), NewTopic(topics.bad, 3, 1)]
                                 ).values():
        f.result(timeout=30)
    time.sleep(1.0)
    yield topics
    for f in admin.delete_topics([topics.raw, topics.bad]).values():
        with contextlib.suppress(Exception):
            f.result(timeout=30)


@pytest.fixture
def intake(core_api: Any, event_topics: Topics) -> Iterator[EventIntake]:
    """The API's intake, writing to the test topics (a new one per test: settings and
    windows may differ)."""
    made = EventIntake(raw_topic=event_topics.raw, bad_topic=event_topics.bad)
    core_api.app.state.events_intake = made
    yield made
    core_api.app.state.events_intake = None
    made.close()


@cache
def _writer_schema(schema_id: int) -> Any:
    text = registry_client().get_schema(schema_id).schema_str
    assert text is not None
    return fastavro.parse_schema(orjson.loads(text))


@dataclass(frozen=True)
class Record:
    key: bytes | None
    schema_id: int
    value: dict[str, Any]


def read_topic(topic: str, since: dict[int, int] | None = None) -> list[Record]:
    """Every record after `since` (default: all), decoded with its writer schema fetched
    from the registry by the id in its Confluent header."""
    out: list[Record] = []
    start = {p: (since or {}).get(p, 0) for p in end_offsets(topic)}
    for msg in messages_since(topic, start):
        value = msg.value() or b""
        assert value[:1] == b"\x00", "not Confluent-framed"
        schema_id = int.from_bytes(value[1:5], "big")
        record = fastavro.schemaless_reader(io.BytesIO(value[5:]), _writer_schema(schema_id),
                                            None)
        assert isinstance(record, dict)
        plain = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in record.items()}
        out.append(Record(msg.key(), schema_id, plain))
    return out


def event(**fields: Any) -> dict[str, Any]:
    """A valid guest view of a product, made now; `fields` override or add (None drops)."""
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "event_type": "view",
        "occurred_at": datetime.now(UTC).isoformat(), "session_id": "s-" + secrets.token_hex(6),
        "anonymous_id": "anon-" + secrets.token_hex(6), "surface": "feed",
        "target_type": "product", "target_id": str(uuid.uuid4()), "position": 3,
        "platform": "android", "app_version": "2.4.1", "utm_source": "instagram",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()
