"""`pos-producer simulate` against real processes: the core API (uvicorn, fresh database)
seeded over HTTP, then terminals producing to the real Kafka through the registry.

A small world (5 merchants, 40 SKUs, 6 terminals) is seeded, re-seeded (nothing is
duplicated), and run for a few seconds; every till event of the summary is read back from
`pos.sales` (and every heartbeat from `pos.heartbeats`), per device, once each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from infra.settings import REPO_ROOT, get_settings
from marketplace_core.catalog.barcodes import is_valid_ean13
from marketplace_core.migrate import apply_migrations
from schemas.registry import register, registry_client
from schemas.topic_admin import ensure_topics
from schemas.topics import POS_HEARTBEATS, POS_SALES, Topic
from tests.integration.apps import core_api

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack"),
              pytest.mark.timeout(240)]

SEED = 4242
MERCHANTS, SKUS, DEVICES = 5, 40, 6


@pytest.fixture
def live_core_api(make_database: Callable[[], str],
             tmp_path: Path) -> Iterator[tuple[str, str]]:
    dsn = make_database()
    apply_migrations(dsn)
    # bcrypt at its minimum cost: seeding registers sellers, and hashing dominates it
    env = {"POSTGRES_DSN": dsn, "CORE_BCRYPT_ROUNDS": "4"}
    with core_api(env, tmp_path / "core.log") as url:
        yield url, dsn


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "pos_producer.simulator", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _end_offsets(consumer: Consumer, topic: Topic) -> dict[int, int]:
    metadata = consumer.list_topics(topic.name, timeout=10).topics[topic.name]
    return {p: consumer.get_watermark_offsets(TopicPartition(topic.name, p), timeout=10)[1]
            for p in metadata.partitions}


def _read_since(consumer: Consumer, topic: Topic, since: dict[int, int]) -> list[dict[str, Any]]:
    """Every record of `topic` written after the offsets `since`, decoded, partition order."""
    decode = AvroDeserializer(registry_client())
    ctx = SerializationContext(topic.name, MessageField.VALUE)
    out: list[dict[str, Any]] = []
    for partition, start in since.items():
        tp = TopicPartition(topic.name, partition)
        high = consumer.get_watermark_offsets(tp, timeout=10)[1]
        if high <= start:
            continue
        consumer.assign([TopicPartition(topic.name, partition, start)])
        while True:
            msg = consumer.poll(5)
            assert msg is not None, f"{topic.name}[{partition}] stopped before {high}"
            assert msg.error() is None, msg.error()
            record = decode(msg.value(), ctx)
            assert record is not None
            out.append(record)
            offset = msg.offset()
            assert offset is not None
            if offset >= high - 1:
                break
    return out


def test_simulate_seeds_through_the_api_and_every_event_reaches_kafka(
    live_core_api: tuple[str, str], tmp_path: Path,
) -> None:
    url, dsn = live_core_api
    ensure_topics()
    for topic in (POS_SALES, POS_HEARTBEATS):
        register(topic)
    common = ["--seed", str(SEED), "--merchants", str(MERCHANTS), "--skus", str(SKUS),
              "--devices", str(DEVICES), "--api-url", url, "--state", str(tmp_path / "st.json")]

    # 1) seeding, twice: the second run reuses the world from the state file
    first = _simulate(*common, "--seed-only")
    assert "seeded in" in first.stdout
    state = json.loads((tmp_path / "st.json").read_text())
    _simulate(*common, "--seed-only")
    assert json.loads((tmp_path / "st.json").read_text()) == state
    # a run killed before it saved some ids: the next one finds those rows, never doubles
    lost = json.loads((tmp_path / "st.json").read_text())
    merchant = lost["merchants"]["m002"]
    del merchant["merchant_id"]
    shop = next(iter(merchant["shops"].values()))
    del shop["shop_id"]
    shop["products"].pop(sorted(shop["products"])[0])
    (tmp_path / "st.json").write_text(json.dumps(lost))
    _simulate(*common, "--seed-only")
    assert json.loads((tmp_path / "st.json").read_text()) == state
    with psycopg.connect(dsn) as conn:
        counts = conn.execute(
            "select (select count(*) from merchants), (select count(*) from shops),"
            " (select count(*) from product_variants), (select count(*) from pos_devices),"
            " (select count(*) from users where role = 'seller')").fetchone()
        barcodes = [r[0] for r in conn.execute("select barcode from product_variants")]
        active = conn.execute("select count(*) from shops where payout_status = 'active'"
                              ).fetchone()
    assert counts == (MERCHANTS, len({k for m in state["merchants"].values()
                                       for k in m["shops"]}), SKUS, DEVICES, MERCHANTS)
    assert all(is_valid_ean13(b) for b in barcodes)
    assert active and active[0] == counts[1]  # payouts onboarded

    # 2) a few seconds of tills: 20 simulated minutes of a Tuesday lunchtime
    probe = Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                      "group.id": f"test-sim-{uuid4()}", "enable.auto.commit": False})
    try:
        since_sales = _end_offsets(probe, POS_SALES)
        since_beats = _end_offsets(probe, POS_HEARTBEATS)
        summary_path = tmp_path / "summary.json"
        _simulate(*common, "--rate", "300", "--duration", "8", "--speedup", "150",
                  "--start", "2025-06-10T12:30:00", "--silent-fraction", "0.2",
                  "--outbox-dir", str(tmp_path / "outboxes"), "--summary", str(summary_path))
        summary = json.loads(summary_path.read_text())
        sales = _read_since(probe, POS_SALES, since_sales)
        beats = _read_since(probe, POS_HEARTBEATS, since_beats)
    finally:
        probe.close()

    ours = set(summary["per_device"])
    assert len(ours) == DEVICES and summary["pending"] == 0
    assert summary["till_events"] > 50 and summary["events"]["sale"] > 40
    assert len(summary["silent_devices"]) == 1
    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in sales:
        if record["device_id"] in ours:
            by_device[record["device_id"]].append(record)
    for device, expected in summary["per_device"].items():
        records = by_device[device]
        assert len(records) == expected["till_events"], device
        numbers = [r["receipt_number"] for r in records]
        assert len(set(numbers)) == len(numbers)  # each event once
        seqs = [r["sequence_number"] for r in records]
        assert seqs == sorted(seqs)  # in order per device
        kinds = Counter(r["event_type"] for r in records)
        assert {k: n for k, n in expected["events"].items() if k != "heartbeat"} == dict(kinds)
        assert all(str(r["shop_id"]) == expected["shop_id"] for r in records)
    beat_counts = Counter(b["device_id"] for b in beats if b["device_id"] in ours)
    assert {d: v["heartbeats"] for d, v in summary["per_device"].items()} == dict(beat_counts)
