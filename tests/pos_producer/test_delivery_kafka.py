"""The terminal against the real broker and registry: killed mid-stream, and selling through
a broker outage. Each ends with exactly the outbox's events on Kafka (after dedupe on
(device_id, receipt_number)), in order per device.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from infra.settings import REPO_ROOT
from pos_producer import DeviceConfig, Item, StockLevel, Terminal
from pos_producer.outbox import Outbox
from pos_producer.producer import TOKEN_HEADER
from schemas.pos.signing import verify
from schemas.topics import POS_HEARTBEATS, POS_SALES
from tests.pos_producer.kafka_helpers import (
    Received,
    end_offsets,
    read_since,
    registered_id,
    test_device_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

SECRET = "integration-secret"
TOKEN = "integration-token"


def _assert_exactly_the_outbox(received: list[Received], outbox: Path, device: str) -> None:
    """Every outbox event arrived (maybe more than once), nothing else did, the first
    delivery of each comes in sequence order, and every record is signed and framed
    with the platform's schema id."""
    box = Outbox(outbox)
    try:
        rows = box.rows(device)
        assert box.pending(device) == 0
    finally:
        box.close()
    expected = {r.receipt_number for r in rows if r.topic == POS_SALES.name}
    got = [m for m in received if m.key == device]
    assert {m.record["receipt_number"] for m in got} == expected
    assert len({m.partition for m in got}) == 1  # one partition per device
    schema_id = registered_id(POS_SALES)
    seen: set[str] = set()
    first_sequences: list[int] = []
    for m in got:
        assert m.schema_id == schema_id
        assert m.headers[TOKEN_HEADER] == TOKEN.encode()
        assert verify(m.record, SECRET, m.record["signature"])
        if m.record["receipt_number"] not in seen:
            seen.add(m.record["receipt_number"])
            first_sequences.append(m.record["sequence_number"])
    assert first_sequences == sorted(first_sequences)
    assert len(set(first_sequences)) == len(first_sequences)


def _cli(device: str, shop: uuid.UUID, outbox: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pos_producer.cli", *args[:1], "--device", device,
            "--shop", str(shop), "--token", TOKEN, "--secret", SECRET,
            "--outbox", str(outbox), *args[1:]]


def test_a_terminal_killed_mid_stream_delivers_every_event(tmp_path: Path) -> None:
    device, shop = test_device_id(), uuid.uuid4()
    outbox = tmp_path / "till.sqlite"
    start = end_offsets(POS_SALES)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    recorded: list[str] = []
    # Three runs, each SIGKILLed at a different point while recording and sending.
    for kill_after in (40, 250, 500):
        proc = subprocess.Popen(
            _cli(device, shop, outbox, "sell", "--variant", str(uuid.uuid4()), "--qty", "2",
                 "--price", "1500.00", "--count", "2000", "--interval", "0.001"),
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for n, line in enumerate(proc.stdout, start=1):
                recorded.append(line.strip())
                if n == kill_after:
                    break
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
    # Receipt numbers continued across the kills, never reused.
    numbers = [int(r.rsplit("-", 1)[1]) for r in recorded if r.startswith(device)]
    assert numbers == sorted(set(numbers)) and len(numbers) >= 790

    box = Outbox(outbox)
    left_by_kills = box.pending(device)
    box.close()
    print(f"left undelivered by the kills: {left_by_kills}")

    done = subprocess.run(_cli(device, shop, outbox, "flush", "--timeout", "40"),
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pending 0" in done.stdout
    received = read_since(POS_SALES, start, {device})
    distinct = len({m.record["receipt_number"] for m in received})
    print(f"received {len(received)} record(s), {distinct} distinct")
    _assert_exactly_the_outbox(received, outbox, device)


def _failed_attempts(outbox: Path) -> int:
    db = sqlite3.connect(outbox)
    try:
        return int(db.execute("select count(*) from events where failures > 0").fetchone()[0])
    finally:
        db.close()


def _kafka():  # type: ignore[no-untyped-def]
    from infra.services.kafka import Kafka

    return Kafka()


@pytest.fixture
def broker_restarted_after() -> Iterator[None]:
    try:
        yield
    finally:
        _kafka().start()


def test_the_till_keeps_selling_while_the_broker_is_down(
    tmp_path: Path, broker_restarted_after: None
) -> None:
    device, shop, variant = test_device_id(), uuid.uuid4(), uuid.uuid4()
    sales_start, beats_start = end_offsets(POS_SALES), end_offsets(POS_HEARTBEATS)
    # A short message timeout, so the outage makes deliveries fail and the outbox retry.
    cfg = DeviceConfig(device_id=device, shop_id=shop, token=TOKEN, secret=SECRET,
                       outbox_path=tmp_path / "till.sqlite", message_timeout_ms=3000,
                       producer_config={"reconnect.backoff.max.ms": 500})
    item = Item(variant_id=variant, qty=1, unit_price=Decimal("350.50"))
    slowest = 0.0

    def ring(n: int) -> None:
        nonlocal slowest
        for i in range(n):
            t0 = time.monotonic()
            till.sale([item])
            if i % 10 == 0:
                till.heartbeat(stock=[StockLevel(variant_id=variant, qty=1000 - i)])
            slowest = max(slowest, time.monotonic() - t0)
            time.sleep(0.01)

    with Terminal(cfg) as till:
        ring(30)
        assert till.flush(20) == 0
        _kafka().stop()
        outage_started = time.monotonic()
        ring(200)
        # Keep selling until deliveries have timed out (they stay unsent in the outbox).
        while _failed_attempts(cfg.outbox) == 0:
            assert time.monotonic() - outage_started < 30, "no delivery timed out"
            ring(10)
        assert till.pending() > 0
        _kafka().start()
        ring(20)
        assert till.flush(45) == 0
    # Recording never waited for the broker.
    assert slowest < 0.5, f"a sale took {slowest:.2f}s"
    _assert_exactly_the_outbox(read_since(POS_SALES, sales_start, {device}), cfg.outbox, device)
    beats = read_since(POS_HEARTBEATS, beats_start, {device})
    assert beats and all(verify(b.record, SECRET, b.record["signature"]) for b in beats)
    box = Outbox(cfg.outbox)
    try:
        expected_beats = {r.sequence_number for r in box.rows(device)
                          if r.topic == POS_HEARTBEATS.name}
    finally:
        box.close()
    assert {b.record["sequence_number"] for b in beats} == expected_beats
