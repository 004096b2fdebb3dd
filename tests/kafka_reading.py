"""Reading a topic in a test, defined once: where each partition ends now, and every message
from given offsets up to those ends.

    start = end_offsets("pos.sales")          # before the test writes
    ...
    for msg in messages_since("pos.sales", start):
        ...                                     # the test's own records, partition order
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from infra.settings import get_settings


def _consumer(config: Mapping[str, Any]) -> Consumer:
    return Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                     "group.id": f"test-read-{random.getrandbits(64):x}",
                     "enable.auto.commit": False, "enable.partition.eof": True, **config})


def end_offsets(topic: str) -> dict[int, int]:
    """Each partition's high watermark now: where a test's own records will start."""
    consumer = _consumer({})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in meta.partitions}
    finally:
        consumer.close()


def messages_since(topic: str, start: Mapping[int, int] | None = None,
                   config: Mapping[str, Any] | None = None) -> Iterator[Message]:
    """Every message of `topic` from the offsets `start` (partition -> offset; None: each
    partition's low watermark) up to each partition's high watermark when it is reached,
    in partition order. `config` adds consumer settings (e.g.
    `isolation.level`). Fails a test if a partition stops answering for 10 s."""
    consumer = _consumer(config or {})
    try:
        if start is None:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            start = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0]
                     for p in meta.partitions}
        for partition, low in sorted(start.items()):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                     timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            while True:
                msg = consumer.poll(10)
                assert msg is not None, "timed out reading the topic"
                if msg.partition() != partition:
                    continue  # left over from the previous assignment
                err = msg.error()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err
                    # read_committed: the end of what is committed may come before `high`
                    if (msg.offset() or 0) >= high:
                        break
                    continue
                yield msg
                if (msg.offset() or 0) >= high - 1:
                    break
            consumer.unassign()
    finally:
        consumer.close()
