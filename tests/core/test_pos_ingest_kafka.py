"""The POS ingest consumer against the real Kafka, schema registry and Postgres.

Each test gets its own database and its own topics (named like pos.sales but unique), so
other tests' terminals do not interfere. Events are produced the way a terminal produces
them: Avro through the registry (no auto-registration), key = device id, the device token
in the `device-token` header, signed with the device secret.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from infra.settings import REPO_ROOT, get_settings
from marketplace_core.catalog import service as catalog
from marketplace_core.migrate import apply_migrations
from marketplace_core.pos.credentials import DeviceCredentials
from schemas.registry import register, registry_client
from schemas.topics import POS_DEAD_LETTER, POS_HEARTBEATS, POS_SALES, Topic, schema_str
from tests.core.test_pos_ingest_support import heartbeat, make_device, make_variant, till_event

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]


@dataclass(frozen=True)
class Topics:
    sales: Topic
    heartbeats: Topic
    dead_letter: Topic

    def args(self) -> list[str]:
        return ["--sales-topic", self.sales.name, "--heartbeats-topic", self.heartbeats.name,
                "--dead-letter-topic", self.dead_letter.name]


@pytest.fixture
def topics() -> Iterator[Topics]:
    suffix = secrets.token_hex(4)
    made = Topics(*(Topic(name=f"{t.name}.test-{suffix}", key=t.key, schema_file=t.schema_file,
                          partitions=p, retention_ms=3_600_000)
                    for t, p in ((POS_SALES, 3), (POS_HEARTBEATS, 1), (POS_DEAD_LETTER, 1))))
    admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    all_topics = (made.sales, made.heartbeats, made.dead_letter)
    for fut in admin.create_topics([NewTopic(t.name, num_partitions=t.partitions,
                                             replication_factor=1)
                                    for t in all_topics]).values():
        fut.result(timeout=30)
    for t in all_topics:
        register(t)
    try:
        yield made
    finally:
        for fut in admin.delete_topics([t.name for t in all_topics]).values():
            with contextlib.suppress(Exception):  # cleanup only
                fut.result(timeout=30)


@pytest.fixture
def ingest_dsn(make_database: Callable[[], str]) -> str:
    dsn = make_database()
    apply_migrations(dsn)
    return dsn


@dataclass
class Terminal:
    """A device and what it recorded (the truth the platform must end up with)."""

    creds: DeviceCredentials
    variants: list[UUID]
    stock: dict[UUID, int]
    sales: dict[str, dict[UUID, int]] = field(default_factory=dict)
    refunded: set[str] = field(default_factory=set)  # sales with refunds: not voidable
    applied: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    sequence: int = 0


class TerminalProducer:
    def __init__(self, topics: Topics) -> None:
        registry = registry_client()
        self.topics = topics
        self.producer = Producer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                                  "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                                  "partitioner": "murmur2_random"})
        self.sales = AvroSerializer(registry, schema_str(POS_SALES),
                                    conf={"auto.register.schemas": False})
        self.heartbeats = AvroSerializer(registry, schema_str(POS_HEARTBEATS),
                                         conf={"auto.register.schemas": False})

    def send(self, creds: DeviceCredentials, record: dict[str, Any], *,
             heartbeat: bool = False, raw: bytes | None = None) -> None:
        topic = self.topics.heartbeats if heartbeat else self.topics.sales
        encode = self.heartbeats if heartbeat else self.sales
        value = raw if raw is not None else encode(
            record, SerializationContext(topic.name, MessageField.VALUE))
        self.producer.produce(topic.name, key=creds.device_id.encode(), value=value,
                              headers=[("device-token", creds.token.encode())])

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


def _terminals(dsn: str, count: int) -> list[Terminal]:
    out = []
    with psycopg.connect(dsn) as conn:
        for n in range(count):
            merchant = catalog.create_merchant(conn, f"Merchant {n} {secrets.token_hex(3)}")
            shop = catalog.create_shop(conn, merchant.id, f"Shop {n}", address="Dordoi")
            variants = [make_variant(conn, shop.id, price=price, stock=10_000)
                        for price in ("1500.00", "320.50")]
            out.append(Terminal(make_device(conn, shop.id), variants,
                                {v: 10_000 for v in variants}))
    return out


PRICES = {0: "1500.00", 1: "320.50"}


def _record_events(t: Terminal, producer: TerminalProducer, rng: random.Random,
                   count: int) -> None:
    """Produce `count` till events of one terminal and keep its own ledger of them."""
    sent: list[dict[str, Any]] = []
    for _ in range(count):
        t.sequence += 1
        roll = rng.random()
        open_sales = [r for r in t.sales if t.sales[r]]
        if roll < 0.05 and sent:  # the till resends an event (lost acknowledgement)
            producer.send(t.creds, rng.choice(sent))
            t.duplicates += 1
            continue
        if roll < 0.08:  # an item the shop does not sell
            producer.send(t.creds, till_event(t.creds, [(UUID(int=rng.getrandbits(128)), 1,
                                                          "10.00")], sequence_number=t.sequence))
            t.rejected["UNKNOWN_VARIANT"] += 1
            continue
        if roll < 0.10:  # unreadable bytes
            producer.send(t.creds, {}, raw=b"\x00garbage")
            t.rejected["UNDECODABLE"] += 1
            continue
        voidable = [r for r in open_sales if r not in t.refunded]
        if roll < 0.18 and voidable:
            receipt = rng.choice(voidable)
            record = till_event(t.creds, [], event_type="void", total=None,
                                original_receipt_number=receipt, sequence_number=t.sequence)
            for variant, qty in t.sales.pop(receipt).items():
                t.stock[variant] += qty
        elif roll < 0.25 and open_sales:
            # One unit back of a sale still holding some (a refund names its sale).
            receipt = rng.choice(open_sales)
            variant = rng.choice([v for v, q in t.sales[receipt].items() if q > 0])
            i = t.variants.index(variant)
            record = till_event(t.creds, [(variant, 1, PRICES[i])], event_type="refund",
                                original_receipt_number=receipt, sequence_number=t.sequence)
            t.sales[receipt][variant] -= 1
            if not any(t.sales[receipt].values()):
                del t.sales[receipt]
            t.refunded.add(receipt)
            t.stock[variant] += 1
        else:
            lines = {t.variants[i]: rng.randint(1, 3) for i in rng.sample([0, 1],
                                                                          rng.randint(1, 2))}
            record = till_event(t.creds, [(v, q, PRICES[t.variants.index(v)])
                                          for v, q in lines.items()],
                                sequence_number=t.sequence)
            for v, q in lines.items():
                t.stock[v] -= q
            t.sales[record["receipt_number"]] = lines
        producer.send(t.creds, record)
        sent.append(record)
        t.applied += 1


def _spawn(dsn: str, topics: Topics, group: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "marketplace_core.pos.consumer", "--dsn", dsn,
             "--group", group, *topics.args(), *extra],
            cwd=REPO_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=out,
            stderr=subprocess.STDOUT)


def _scalar(dsn: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
        return row[0] if row else None


def _dead_letters_on(topic: Topic) -> list[dict[str, Any]]:
    consumer = Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "group.id": f"test-{secrets.token_hex(4)}",
                         "enable.partition.eof": True})
    decode = AvroDeserializer(registry_client())
    out: list[dict[str, Any]] = []
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic.name, 0), timeout=10)
        if high <= low:
            return out
        consumer.assign([TopicPartition(topic.name, 0, low)])
        while True:
            msg = consumer.poll(10)
            assert msg is not None, "timed out reading the dead letters"
            err = msg.error()
            if err is not None:
                assert err.code() == KafkaError._PARTITION_EOF, err
                break
            out.append(decode(msg.value(), SerializationContext(topic.name, MessageField.VALUE)))
            if (msg.offset() or 0) >= high - 1:
                break
    finally:
        consumer.close()
    return out


def test_consumer_killed_mid_batch_applies_every_event_exactly_once(
    ingest_dsn: str, topics: Topics, tmp_path: Path,
) -> None:
    rng = random.Random(20300601)
    terminals = _terminals(ingest_dsn, 3)
    producer = TerminalProducer(topics)
    for t in terminals:
        producer.send(t.creds, heartbeat(t.creds), heartbeat=True)
    for _ in range(4):  # interleave the devices, as tills in one market do
        for t in terminals:
            _record_events(t, producer, rng, 75)
    producer.flush()
    total_applied = sum(t.applied for t in terminals)

    group = f"pos-ingest-test-{secrets.token_hex(4)}"
    log = tmp_path / "consumer.log"
    # Small batches and a device rate limit make the run last long enough to kill it.
    first = _spawn(ingest_dsn, topics, group, log, "--batch-size", "10",
                   "--device-rate", "60", "--device-burst", "20")
    deadline = time.monotonic() + 60
    while (_scalar(ingest_dsn, "select count(*) from pos_receipts") or 0) < total_applied // 3:
        assert first.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the consumer applied nothing"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    applied_at_kill = _scalar(ingest_dsn, "select count(*) from pos_receipts")
    assert applied_at_kill < total_applied, "killed too late to test anything"

    second = _spawn(ingest_dsn, topics, group, log, "--until-idle", "--idle-seconds", "3")
    try:
        assert second.wait(90) == 0, log.read_text()[-3000:]
    except subprocess.TimeoutExpired:
        pytest.fail(f"the restarted consumer did not finish: {log.read_text()[-3000:]}")
    finally:
        if second.poll() is None:
            second.kill()
    _assert_devices_match(ingest_dsn, terminals, topics)

    # The worst replay: the group's Kafka offsets are lost and everything is read again.
    # The consumer's own positions skip it all: nothing changes, not even a counter.
    _rewind(group, topics)
    third = _spawn(ingest_dsn, topics, group, log, "--until-idle", "--idle-seconds", "3")
    assert third.wait(90) == 0, log.read_text()[-3000:]
    summary = log.read_text().strip().splitlines()[-1]
    assert summary.startswith("applied=0 duplicates=0 rejected=0 replayed="), summary
    _assert_devices_match(ingest_dsn, terminals, topics)


def _rewind(group: str, topics: Topics) -> None:
    consumer = Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(t.name, p, 0)
                                 for t in (topics.sales, topics.heartbeats)
                                 for p in range(t.partitions)], asynchronous=False)
    finally:
        consumer.close()


def _assert_devices_match(ingest_dsn: str, terminals: list[Terminal], topics: Topics) -> None:

    with psycopg.connect(ingest_dsn) as conn:
        for t in terminals:
            stock: dict[UUID, int] = dict(conn.execute(
                "select id, stock_qty from product_variants where id = any(%s)",
                (t.variants,)).fetchall())
            assert stock == t.stock
            counters = conn.execute(
                "select applied, duplicates, rejected, heartbeats from pos_ingest_counters"
                " where device_id = %s", (t.creds.device_id,)).fetchone()
            assert counters == (t.applied, t.duplicates, t.rejected.total(), 1)
            receipts = conn.execute(
                "select count(*), count(distinct receipt_number) from pos_receipts"
                " where device_id = %s", (t.creds.device_id,)).fetchone()
            assert receipts == (t.applied, t.applied)
            connectivity = conn.execute("select connectivity from pos_devices where id = %s",
                                        (t.creds.device_id,)).fetchone()
            assert connectivity == ("pos_active",)
        unpublished = conn.execute(
            "select count(*) from pos_dead_letters where published_at is null").fetchone()
        assert unpublished == (0,)
        reasons = Counter(r for (r,) in conn.execute(
            "select reason_code from pos_dead_letters"))
    expected = sum((t.rejected for t in terminals), Counter[str]())
    assert reasons == expected
    published = {d["dead_letter_id"]: d for d in _dead_letters_on(topics.dead_letter)}
    assert Counter(d["reason_code"] for d in published.values()) == expected
    assert all(d["source"] == "kafka" and d["raw_value"] for d in published.values())
