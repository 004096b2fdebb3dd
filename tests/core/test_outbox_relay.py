"""The outbox relay against the real Postgres, Kafka and schema registry.

The central promise: every committed change reaches Kafka exactly once under its event id,
in commit order per entity — even when the relay is SIGKILLed mid-stream and restarted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from infra.settings import REPO_ROOT
from marketplace_core.migrate import apply_migrations
from marketplace_core.outbox import emit
from marketplace_core.outbox.relay import OutboxRelay, leader_present
from schemas.registry import register, registry_client
from schemas.topics import CORE_PRODUCTS, CORE_VARIANTS, Topic
from tests.kafka_reading import messages_since

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

TOPICS = (CORE_PRODUCTS, CORE_VARIANTS)
TOPIC_ARGS = [arg for t in TOPICS for arg in ("--topic", t.name)]


@pytest.fixture
def relay_dsn(make_database: Callable[[], str]) -> str:
    dsn = make_database()
    apply_migrations(dsn)
    for topic in TOPICS:
        register(topic)
    return dsn


def _source_id(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select source_id from outbox_source").fetchone()
        assert row
        return str(row[0])


def _product_change(conn: psycopg.Connection[Any], product_id: UUID, n: int) -> UUID:
    # Writers lock the entity before emitting; an advisory lock stands in for the row lock.
    conn.execute("select pg_advisory_xact_lock(%s)", (zlib.crc32(product_id.bytes),))
    return emit(conn, CORE_PRODUCTS, entity_type="product", entity_id=product_id,
                event_type="product.updated",
                record={"product_id": product_id, "shop_id": uuid4(), "merchant_id": uuid4(),
                        "name_ru": f"Товар, версия {n}"})


def _published(topic: Topic, source_id: str) -> list[dict[str, Any]]:
    """Every message of `topic` stamped with `source_id`, in partition order."""
    out: list[dict[str, Any]] = []
    # what a consumer of the outbox must use: aborted batches of a fenced relay are not
    # published
    for msg in messages_since(topic.name, config={"isolation.level": "read_committed"}):
        headers = {k: bytes(v or b"") for k, v in (msg.headers() or [])}  # type: ignore[arg-type]
        if headers.get("outbox_source", b"").decode() == source_id:
            out.append({"partition": msg.partition(), "offset": msg.offset(),
                        "key": (msg.key() or b"").decode(),
                        "event_id": headers["event_id"].decode(),
                        "outbox_id": int(headers["outbox_id"].decode()),
                        "ts": msg.timestamp()[1],
                        "value": msg.value()})
    return out


def _spawn_relay(dsn: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "marketplace_core.outbox.relay", "--dsn", dsn,
             *TOPIC_ARGS, *extra],
            cwd=REPO_ROOT, env={**os.environ}, stdout=out, stderr=subprocess.STDOUT)


def _unpublished(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select count(*) from outbox where published_at is null").fetchone()
        return int(row[0]) if row else -1


def test_events_are_framed_for_the_registry_and_decode_exactly(relay_dsn: str) -> None:
    variant_id = uuid4()
    with psycopg.connect(relay_dsn) as conn, conn.transaction():
        event_id = emit(conn, CORE_VARIANTS, entity_type="variant", entity_id=variant_id,
                        event_type="variant.price_changed",
                        record={"variant_id": variant_id, "product_id": uuid4(),
                                "shop_id": uuid4(), "sku": "TEA-1", "attributes_json": "{}",
                                "price": Decimal("1999.99"), "stock_qty": 7})
    stats = OutboxRelay(relay_dsn, topics=TOPICS).run(until_idle=True)
    assert stats.published == 1

    [message] = _published(CORE_VARIANTS, _source_id(relay_dsn))
    assert message["key"] == str(variant_id)
    assert message["event_id"] == str(event_id)
    record = AvroDeserializer(registry_client())(
        message["value"], SerializationContext(CORE_VARIANTS.name, MessageField.VALUE))
    assert record is not None
    assert record["price"] == Decimal("1999.99")
    assert str(record["event_id"]) == str(event_id)
    assert record["event_type"] == "variant.price_changed"
    assert _unpublished(relay_dsn) == 0


def test_a_relay_killed_mid_stream_publishes_every_change_exactly_once(
    relay_dsn: str, tmp_path: Path
) -> None:
    entities = [uuid4() for _ in range(40)]
    written: list[UUID] = []
    lock = threading.Lock()
    writing = threading.Event()
    writing.set()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(relay_dsn) as conn:
            n = 0
            while writing.is_set():
                # Lock entities in one global order, as real writers do, to avoid deadlocks.
                chosen = sorted(rng.sample(entities, rng.randint(1, 5)),
                                key=lambda e: zlib.crc32(e.bytes))
                with conn.transaction():
                    ids = [_product_change(conn, entity, n + i)
                           for i, entity in enumerate(chosen)]
                with lock:
                    written.extend(ids)
                n += 5
                time.sleep(rng.uniform(0, 0.004))

    failures: list[BaseException] = []

    def guarded_writer(seed: int) -> None:
        try:
            writer(seed)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded_writer, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    log = tmp_path / "relay.log"
    kills = 0
    try:
        for _ in range(4):
            relay = _spawn_relay(relay_dsn, log)
            time.sleep(random.uniform(1.5, 3.0))  # includes start-up; then mid-stream
            relay.send_signal(signal.SIGKILL)
            relay.wait(10)
            kills += 1
    finally:
        writing.clear()
        for t in threads:
            t.join(30)

    finisher = _spawn_relay(relay_dsn, log, "--until-idle")
    assert finisher.wait(120) == 0, log.read_text()[-3000:]

    assert not failures, failures
    assert kills == 4 and len(written) > 500
    assert _unpublished(relay_dsn) == 0
    messages = _published(CORE_PRODUCTS, _source_id(relay_dsn))
    published_ids = [m["event_id"] for m in messages]
    copies = Counter(published_ids)
    dups = [(m["partition"], m["offset"], m["outbox_id"]) for m in messages
            if copies[m["event_id"]] > 1]
    assert not dups, f"published twice: {dups[:10]}\n{log.read_text()[-3000:]}"
    assert set(published_ids) == {str(e) for e in written}, "a change was lost"

    # Per entity, Kafka holds the changes in outbox (= commit) order.
    order: dict[str, list[int]] = defaultdict(list)
    for m in sorted(messages, key=lambda m: (m["partition"], m["offset"])):
        order[m["key"]].append(m["outbox_id"])
    assert all(ids == sorted(ids) for ids in order.values())
    with psycopg.connect(relay_dsn) as conn:
        reconciled = conn.execute(
            "select count(*) from outbox where kafka_offset is not null").fetchone()
    assert reconciled and reconciled[0] == len(written)
    # Say how often the crash caught messages in flight (visible with -rP); not asserted.
    print(f"{len(written)} changes, {kills} kills; relay log: "
          f"{log.read_text().count('reconciled')} reconciliations")


def test_a_second_relay_waits_as_standby_and_takes_over(relay_dsn: str, tmp_path: Path) -> None:
    log = tmp_path / "relay.log"
    first = _spawn_relay(relay_dsn, log)
    second = _spawn_relay(relay_dsn, log)
    try:
        deadline = time.monotonic() + 30
        while not leader_present(relay_dsn):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(2)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        with psycopg.connect(relay_dsn) as conn, conn.transaction():
            _product_change(conn, uuid4(), 0)
        deadline = time.monotonic() + 30
        while _unpublished(relay_dsn):
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)
    assert "waiting as standby" in log.read_text()


def test_lag_is_recorded_per_event(relay_dsn: str) -> None:
    with psycopg.connect(relay_dsn) as conn, conn.transaction():
        for n in range(20):
            _product_change(conn, uuid4(), n)
    relay = OutboxRelay(relay_dsn, topics=TOPICS, keep_lags=True)
    relay.run(until_idle=True)
    assert len(relay.stats.lags_ms) == 20
    assert all(lag >= 0 for lag in relay.stats.lags_ms)
    with psycopg.connect(relay_dsn) as conn:
        row = conn.execute(
            "select count(*) from outbox where published_at >= occurred_at").fetchone()
    assert row and row[0] == 20


class _CrashAfterSend(OutboxRelay):
    """Dies in the worst window: messages acknowledged by Kafka, outbox not yet marked."""

    crash_while_reconciling = False

    def _mark(self, conn: Any, found: list[Any], positions: Any = None) -> int:
        reconciling = getattr(self, "_reconciling", False)
        if found and self._producer is not None and reconciling == self.crash_while_reconciling:
            raise SystemExit("simulated crash before the outbox is marked")
        return super()._mark(conn, found, positions)

    def reconcile(self, conn: Any) -> int:
        self._reconciling = True
        try:
            return super().reconcile(conn)
        finally:
            self._reconciling = False


def test_a_crash_between_send_and_mark_is_reconciled_not_resent(relay_dsn: str) -> None:
    with psycopg.connect(relay_dsn) as conn, conn.transaction():
        written = [_product_change(conn, uuid4(), n) for n in range(50)]
    with pytest.raises(SystemExit):
        _CrashAfterSend(relay_dsn, topics=TOPICS).run(until_idle=True)
    assert _unpublished(relay_dsn) == 50  # all 50 are in Kafka, none marked

    # ...and the next one dies too, after reading Kafka back but before marking.
    crashing = _CrashAfterSend(relay_dsn, topics=TOPICS)
    crashing.crash_while_reconciling = True
    with pytest.raises(SystemExit):
        crashing.run(until_idle=True)
    assert _unpublished(relay_dsn) == 50

    restarted = OutboxRelay(relay_dsn, topics=TOPICS)
    stats = restarted.run(until_idle=True)
    assert (stats.reconciled, stats.published) == (50, 0)
    messages = _published(CORE_PRODUCTS, _source_id(relay_dsn))
    assert sorted(m["event_id"] for m in messages) == sorted(str(e) for e in written)
