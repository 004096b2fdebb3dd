"""The catalog benchmark end to end in a tiny mode: it runs and writes well-formed JSON.

Only the shape is checked: performance targets live in the benchmark's report
(bench/README.md), never in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from infra.settings import REPO_ROOT, get_settings

pytestmark = pytest.mark.integration

TOP_LEVEL = {"name", "started_at", "finished_at", "machine", "params", "runs", "median",
             "baseline_median", "ratio", "targets", "notes"}
MEASURED = {"throughput", "p50_ms", "p99_ms", "errors"}


@pytest.fixture(scope="module")
def postgres() -> None:
    try:
        with psycopg.connect(get_settings().postgres_dsn, connect_timeout=3):
            return
    except psycopg.OperationalError:
        from infra.services.postgres import Postgres

        service = Postgres()
        service.install()
        service.start()


def test_catalog_benchmark_writes_its_results(postgres: None, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--variants", "2000", "--runs", "2",
         "--seconds", "1", "--concurrency", "4", "--card-rate", "50", "--search-rate", "5",
         "--results-dir", str(tmp_path), "catalog_card", "catalog_search"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "catalog_card" in done.stdout and "catalog_search" in done.stdout

    for name in ("catalog_card", "catalog_search"):
        result = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        assert result.keys() >= TOP_LEVEL
        assert result["name"] == name
        assert result["machine"]["cores"] >= 1 and result["machine"]["python"]
        assert result["params"]["runs"] == 2 and result["params"]["variants"] == 2000
        assert len(result["runs"]) == 2
        for run in result["runs"]:
            for mode in ("api_rate", "api_max", "baseline"):
                assert run[mode]["succeeded"] > 0, (mode, run[mode])
                assert {"p50", "p99"} <= run[mode]["latency_ms"].keys()
        assert result["median"]["api_rate"].keys() >= MEASURED
        assert result["median"]["api_max"].keys() >= MEASURED
        assert result["baseline_median"].keys() >= MEASURED
        assert result["ratio"]["throughput_api_max_over_baseline"] is not None
        assert isinstance(result["targets"]["met"], bool)
        assert all("met" in t for t in result["targets"].values() if isinstance(t, dict))


@pytest.mark.usefixtures("stack")
def test_pos_benchmarks_write_their_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--variants", "2000", "--runs", "1",
         "--pos-events", "300", "--seconds", "2", "--results-dir", str(tmp_path),
         # The stack fixture's broker is warmed up (producer id, group coordinator) before
         # this runs: see infra/kafka_warmup.py and bench/README.md.
         "pos_producer_throughput", "pos_sale_to_stock"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    throughput = json.loads((tmp_path / "pos_producer_throughput.json").read_text("utf-8"))
    assert throughput.keys() >= TOP_LEVEL and throughput["params"]["events_per_run"] == 300
    (run,) = throughput["runs"]
    for phase in ("build_only", "record_only", "baseline", "backlog_drain", "terminal"):
        assert run[phase]["events_per_s"] > 0, (phase, run[phase])
    assert run["terminal"]["in_topic"] == run["baseline"]["in_topic"] == 300
    assert run["backlog_drain"]["in_topic"] == 300
    assert throughput["median"]["events_per_s"] and throughput["baseline_median"]["events_per_s"]
    assert throughput["ratio"]["terminal_over_bare_producer"] is not None
    assert isinstance(throughput["targets"]["met"], bool)

    latency = json.loads((tmp_path / "pos_sale_to_stock.json").read_text("utf-8"))
    assert latency.keys() >= TOP_LEVEL and latency["params"]["api_poll_interval_ms"] > 0
    (run,) = latency["runs"]
    assert run["sales"] == 40 and run["missing"] == 0 and run["dead_letters"] == 0
    assert {"p50", "p99", "max"} <= run["api_ms"].keys() <= run["db_ms"].keys()
    assert {"p50_ms", "p99_ms", "max_ms"} <= latency["median"].keys()
    assert latency["ratio"]["api_p99_over_db_p99"] is not None
    assert all("met" in t for t in latency["targets"].values() if isinstance(t, dict))
