"""A fresh Kafka topic standing in for one of the catalog's (its schema registered under the
catalog topic's subject), deleted afterwards: tests read exactly what they produced."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator

from confluent_kafka.admin import AdminClient, NewTopic

from infra.settings import get_settings
from schemas.registry import register
from schemas.topics import Topic


@contextlib.contextmanager
def stand_in_topic(topic: Topic, label: str) -> Iterator[str]:
    """Yields the name `test.<label>.<random>` of a new 3-partition topic."""
    register(topic)
    admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    name = f"test.{label}.{secrets.token_hex(4)}"
    for f in admin.create_topics([NewTopic(name, 3, 1)]).values():
        f.result(timeout=30)
    time.sleep(1.0)  # let the new partitions' leaders settle before the first produce
    try:
        yield name
    finally:
        for f in admin.delete_topics([name]).values():
            with contextlib.suppress(Exception):
                f.result(timeout=30)
