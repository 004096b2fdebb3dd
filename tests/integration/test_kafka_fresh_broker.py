"""A freshly installed broker is ready for an idempotent producer and a consumer group as
soon as `make up` returns (issue 11 §5): started three times from an empty data dir, on a
throwaway broker of the test's own (tests/kafka_sandbox.py; the shared broker is untouched).

`python -m infra up kafka` runs `Kafka.after_start`: the catalog's topics, then the
warm-up (infra/kafka_warmup.py). Then, as the first clients of that broker, a new
idempotent producer delivers at once and a new consumer group that subscribes before the
record is produced reads it (auto.offset.reset earliest) and commits.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.conftest import REAL_LOCAL_DIR
from tests.kafka_sandbox import SandboxBroker

pytestmark = pytest.mark.integration

# One fresh broker in `make test` (~27 s); KAFKA_FRESH_RUNS=3 for the three-in-a-row check.
RUNS = int(os.environ.get("KAFKA_FRESH_RUNS", "1"))


def _first_clients(bootstrap: str) -> tuple[float, float]:
    """Seconds until a new idempotent producer's first delivery; until a new group that
    joined before it was produced has read it and committed."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.subscribe(["pos.sales"])
    consumer.poll(0.5)  # join before the record exists
    started = time.monotonic()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all"})
    reports: list[object] = []
    key = uuid.uuid4().hex.encode()
    producer.produce("pos.sales", key=key, value=b"x",
                     on_delivery=lambda err, _msg: reports.append(err))
    assert producer.flush(10) == 0 and reports == [None], reports
    produced = time.monotonic() - started
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, "the first consumer group saw nothing"
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None and msg.key() == key:
            break
    consumer.commit(message=msg, asynchronous=False)
    (got,) = consumer.committed([TopicPartition("pos.sales", msg.partition())], timeout=10)
    assert got.offset == (msg.offset() or 0) + 1
    consumer.close()
    return produced, time.monotonic() - started


def test_make_up_returns_a_broker_whose_coordinators_work(tmp_path: Path) -> None:
    broker = SandboxBroker(tmp_path, Path(REAL_LOCAL_DIR))
    timings = []
    try:
        for run in range(RUNS):
            broker.wipe()  # freshly installed: formatted again, new cluster id
            up_s = broker.up()
            line = re.search(r"warm-up ([\d.]+)s \(topic ([\d.]+)s, idempotent producer"
                             r" ([\d.]+)s, consumer group ([\d.]+)s\)", broker.last_output)
            assert line, broker.last_output[-2000:]
            produced_s, consumed_s = _first_clients(broker.bootstrap)
            timings.append((up_s, float(line[1]), float(line[3]), float(line[4]),
                            produced_s, consumed_s))
            print(f"fresh broker {run + 1}: make up {up_s:.1f}s, warm-up {line[1]}s"
                  f" (producer id {line[3]}s, group {line[4]}s); then first producer"
                  f" {produced_s:.2f}s, first group read+commit {consumed_s:.2f}s")
            broker.down()
    finally:
        broker.close()
    # After the warm-up nothing waits on a coordinator any more.
    assert all(produced < 3 for *_, produced, _ in timings), timings
    assert all(consumed < 10 for *_, consumed in timings), timings
