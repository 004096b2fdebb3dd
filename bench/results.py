"""Result files: percentiles, medians over runs, ratios to the baseline, the JSON shape.

Every benchmark writes `bench/results/<name>.json`:

    {name, started_at, finished_at, machine: {cores, python, platform, postgres},
     params, runs: [{...metrics of one run...}], median: {...}, baseline_median: {...},
     ratio: {...}, targets: {<target>: {...}, met: bool}, notes: [...], extra: {...}?}

`runs` holds per-run summaries only (no raw samples) so the files stay small enough to be
committed. `median` is the median over runs of each measured figure of the system under
test, `baseline_median` the same for the baseline measured in the same runs, and `ratio`
compares them (documented per benchmark in bench/README.md).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the same definition as bench/loadgen); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(latencies_ms, 50), 3),
        "p90": round(percentile(latencies_ms, 90), 3),
        "p95": round(percentile(latencies_ms, 95), 3),
        "p99": round(percentile(latencies_ms, 99), 3),
        "max": round(max(latencies_ms, default=0.0), 3),
        "mean": round(statistics.fmean(latencies_ms), 3) if latencies_ms else 0.0,
    }


def median_of(runs: Iterable[dict[str, Any]], key: str) -> float | None:
    """The median over runs of a dotted key ("api_rate.latency_ms.p99"), skipping gaps."""
    found: list[float] = []
    for run in runs:
        value: Any = run
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append(float(value))
    return round(statistics.median(found), 3) if found else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def postgres_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("show server_version").fetchone()
    return str(row[0]) if row else "?"


@dataclass
class Result:
    name: str
    params: dict[str, Any]
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    runs: list[dict[str, Any]] = field(default_factory=list)
    median: dict[str, Any] = field(default_factory=dict)
    baseline_median: dict[str, Any] = field(default_factory=dict)
    ratio: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=machine)
    # Anything else a benchmark measured besides its runs (e.g. a parameter sweep).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": self.machine, "params": self.params, "runs": self.runs,
            "median": self.median, "baseline_median": self.baseline_median,
            "ratio": self.ratio, "targets": self.targets, "notes": self.notes,
            **({"extra": self.extra} if self.extra else {}),
        }

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path


def target(value: float | None, *, below: float | None = None, at_least: float | None = None
           ) -> dict[str, Any]:
    """One target: the measured median, the bound, and whether it holds."""
    met = value is not None
    if value is not None and below is not None:
        met = value < below
    if value is not None and at_least is not None:
        met = value >= at_least
    bound: dict[str, Any] = {"below": below} if below is not None else {"at_least": at_least}
    return {"value": value, **bound, "met": met}


def all_met(targets: dict[str, Any]) -> bool:
    return all(t["met"] for t in targets.values() if isinstance(t, dict))
