"""The whole POS chain under faults (issue 11 §5): terminals keep selling while the broker
is stopped and restarted, the POS ingest is SIGKILLed and the core API restarted; afterwards
the core's stock, receipts and counters are exactly what the terminals recorded, and the
simulator's summary equals the core's inventory as the (restarted) API shows it.

Nothing shared is touched: the test runs its own broker (tests/kafka_sandbox.py: other
ports, a temporary data dir, started and stopped as `make up`/`make down` do), its own
database (make_database), its own core API (uvicorn on a free port) and its own ingest
(`python -m marketplace_core.pos.consumer`), all as child processes pointed at them. Only
the schema registry is shared, and only read (the terminals look their schema ids up).

Timeline (wall clock, the simulator runs 20 s at 150× on a Tuesday lunchtime):
  seeding through the API → tills start → the ingest applies some receipts and is
  SIGKILLed mid-stream (a new one starts at once) → the broker is stopped (the tills keep
  recording into their outboxes) → the core API is restarted → the broker comes back →
  the tills drain their outboxes → the ingest catches up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from infra.settings import REPO_ROOT
from marketplace_core.migrate import apply_migrations
from tests.conftest import REAL_LOCAL_DIR
from tests.kafka_sandbox import SandboxBroker, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SEED = 1105
MERCHANTS, SKUS, DEVICES = 3, 24, 4
SIM_SECONDS = 20


class Proc:
    """A child process of the test, restartable, its output appended to one log."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env, self.log = argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=REPO_ROOT, stdout=out,
                                         stderr=subprocess.STDOUT,
                                         env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
                                         start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL, wait: float = 20) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _wait(what: str, check: Callable[[], bool], timeout: float, *procs: Proc) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for p in procs:
            assert p.alive(), f"{p.argv[2]} exited while waiting for {what}:\n{p.tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _scalar(dsn: str, sql: str) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SandboxBroker]:
    sandbox = SandboxBroker(tmp_path / "kafka", Path(REAL_LOCAL_DIR))
    try:
        sandbox.up()
        yield sandbox
    finally:
        sandbox.close()


def test_pos_chain_survives_broker_ingest_and_api_faults(
    broker: SandboxBroker, make_database: Callable[[], str], tmp_path: Path,
) -> None:
    t0 = time.monotonic()
    dsn = make_database()
    apply_migrations(dsn)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "POSTGRES_DSN": dsn,
           "CORE_BCRYPT_ROUNDS": "4", "CORE_API_PORT": str(port),
           "POS_INGEST_METRICS_PORT": str(free_port())}
    api = Proc([sys.executable, "-m", "uvicorn", "marketplace_core.api.main:app", "--host",
                "127.0.0.1", "--port", str(port)], env, tmp_path / "core-api.log")
    ingest = Proc([sys.executable, "-m", "marketplace_core.pos.consumer", "--dsn", dsn,
                   "--group", "pos-ingest-chain-test"], env, tmp_path / "ingest.log")
    summary_path = tmp_path / "summary.json"
    sim = Proc([sys.executable, "-m", "pos_producer.simulator", "--seed", str(SEED),
                "--merchants", str(MERCHANTS), "--skus", str(SKUS), "--devices", str(DEVICES),
                "--api-url", url, "--state", str(tmp_path / "state.json"),
                "--rate", "300", "--duration", str(SIM_SECONDS), "--speedup", "150",
                "--start", "2025-06-10T12:00:00", "--silent-fraction", "0.25",
                "--outbox-dir", str(tmp_path / "outboxes"), "--summary", str(summary_path)],
               env, tmp_path / "simulator.log")
    faults: list[str] = []
    try:
        api.start()
        _wait("the core API", lambda: _healthy(url), 60, api)
        # Seed first (through the API), so the shelves' starting stock is known.
        seeding = subprocess.run([*sim.argv, "--seed-only"], cwd=REPO_ROOT, env={
            **os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert seeding.returncode == 0, seeding.stdout[-2000:] + seeding.stderr[-2000:]
        with psycopg.connect(dsn) as conn:
            initial = {str(v): int(q) for v, q in conn.execute(
                "select id, stock_qty from product_variants")}
            products = [str(p) for (p,) in conn.execute(
                "select distinct product_id from product_variants")]
        ingest.start()
        sim.start()
        sim_started = time.monotonic()
        _wait("the simulator's tills", lambda: "seeded in" in sim.tail(), 30, sim, ingest)

        # 1) the ingest, SIGKILLed once it has applied receipts (mid-stream)
        _wait("the first receipts", lambda: (_scalar(dsn, "select count(*) from pos_receipts")
                                             or 0) >= 5, 30, sim, ingest)
        ingest.kill(signal.SIGKILL)
        faults.append(f"ingest SIGKILLed at {_scalar(dsn, 'select count(*) from pos_receipts')}"
                      " receipts")
        ingest.start()
        # 2) the broker, stopped while the tills sell
        broker.down()
        down_at = time.monotonic()
        faults.append(f"broker stopped at +{down_at - sim_started:.1f}s")
        # 3) the core API, restarted while the broker is away
        api.kill(signal.SIGTERM)
        api.start()
        _wait("the restarted core API", lambda: _healthy(url), 60, api)
        faults.append("core API restarted")
        time.sleep(max(0.0, 5 - (time.monotonic() - down_at)))  # ≥ 5 s without a broker
        up_s = broker.up()
        faults.append(f"broker back after {time.monotonic() - down_at:.1f}s"
                      f" (make up {up_s:.1f}s)")
        assert sim.proc is not None
        assert sim.proc.wait(SIM_SECONDS + 90) == 0, sim.tail()
        summary = json.loads(summary_path.read_text())
        assert summary["pending"] == 0
        till_events = summary["till_events"]
        beats = sum(d["heartbeats"] for d in summary["per_device"].values())
        # The broker was away for a good part of the run: the tills kept recording.
        assert till_events > 40, summary["events"]

        def caught_up() -> bool:
            row = _scalar(dsn, "select array[coalesce(sum(applied), 0),"
                               " coalesce(sum(heartbeats), 0)] from pos_ingest_counters")
            return list(row) == [till_events, beats]
        _wait("the ingest to catch up", caught_up, 45, ingest)
        print(f"faults: {'; '.join(faults)}; {till_events} till events, {beats} heartbeats,"
              f" {time.monotonic() - t0:.0f}s in all")

        with psycopg.connect(dsn) as conn:
            # counters: every event applied once; no duplicate, no refusal, no dead letter
            counters = {d: (a, dup, rej, hb) for d, a, dup, rej, hb in conn.execute(
                "select device_id, applied, duplicates, rejected, heartbeats"
                " from pos_ingest_counters")}
            receipts = Counter[tuple[str, str]]()
            for device, kind, n in conn.execute(
                    "select device_id, event_type, count(*) from pos_receipts"
                    " group by 1, 2"):
                receipts[(device, kind)] = n
            distinct = conn.execute("select count(*), count(distinct (device_id,"
                                    " receipt_number)) from pos_receipts").fetchone()
            dead = conn.execute("select count(*) from pos_dead_letters").fetchone()
            stock = {str(v): int(q) for v, q in conn.execute(
                "select id, stock_qty from product_variants")}
        assert dead == (0,)
        assert distinct == (till_events, till_events)
        for device, expected in summary["per_device"].items():
            kinds = {k: n for k, n in expected["events"].items() if k != "heartbeat"}
            assert {k: receipts[(device, k)] for k in kinds} == kinds, device
            if expected["till_events"] or expected["heartbeats"]:
                assert counters[device] == (expected["till_events"], 0, 0,
                                            expected["heartbeats"]), device
        # stock: the seeded shelves plus what the tills recorded, in the database ...
        moved = summary["stock_delta"]
        assert stock == {v: q + moved.get(v, 0) for v, q in initial.items()}
        # ... and as the restarted core API shows it
        shown: dict[str, int] = {}
        with httpx.Client(base_url=url, timeout=10) as client:
            for product in products:
                card = client.get(f"/products/{product}")
                assert card.status_code == 200, card.text
                shown.update({v["id"]: v["stock_qty"] for v in card.json()["variants"]})
        assert shown == stock
        assert moved and all(stock[v] == initial[v] + d for v, d in moved.items())
    finally:
        for p in (sim, ingest, api):
            p.kill(signal.SIGKILL)
    assert time.monotonic() - t0 < 150
