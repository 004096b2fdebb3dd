"""What the Explore experiment costs in one API process, in-process (no database, no HTTP):

- ranking: `ExploreIndex.ranked()` for a page (positions 0-19, 100-119 deep pages; no tags,
  tags, near) in the control's order against the `ctr_x2` variant's, over the same
  snapshot of N synthetic scored posts;
- the request's experiment work: `assign()` (a sha256) + the exposure log's decision (an
  LRU lookup), per call;
- the snapshot: building it with the variant's extra sorted copy against without.

Median of `--runs` runs; ratios are treatment ÷ control measured in the same run.
Writes bench/results/experiments_explore.json.

    .local/venv/bin/python -m bench.experiments_explore --posts 200000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.results import latency_summary
from marketplace_core.experiments import assign
from marketplace_core.experiments.exposures import ExposureLog, business_day
from marketplace_core.experiments.registry import UnitKind
from marketplace_core.social.ranking import ExploreIndex, Request

RESULT = Path(__file__).resolve().parent / "results" / "experiments_explore.json"
TAGS = [f"tag{i}" for i in range(200)]


def _rows(n: int, seed: int) -> list[tuple[Any, ...]]:
    rng = np.random.default_rng(seed)
    score = rng.gamma(2.0, 1.0, n)
    ctr = rng.beta(1.0, 20.0, n)
    lat = 42.80 + rng.random(n) * 0.12
    lon = 74.50 + rng.random(n) * 0.20
    tag_idx = rng.integers(0, len(TAGS), (n, 2))
    return [(uuid.UUID(int=i + 1), float(score[i] + 10 * ctr[i]),
             float(lat[i]) if i % 3 else None, float(lon[i]) if i % 3 else None,
             [TAGS[tag_idx[i, 0]], TAGS[tag_idx[i, 1]]], float(ctr[i])) for i in range(n)]


def _build(rows: list[tuple[Any, ...]], variants: dict[str, dict[str, float]]
           ) -> tuple[ExploreIndex, float]:
    index = ExploreIndex(variants=variants)
    started = time.perf_counter()
    chunks = [index._arrays(rows[i:i + 50_000]) for i in range(0, len(rows), 50_000)]
    index.stored = index._segment_of(chunks, cold=False)
    index.stored_variants = {name: index._segment_of(chunks, cold=False, weights=w)
                             for name, w in index.variants.items()}
    return index, (time.perf_counter() - started) * 1000


def one_run(rows: list[tuple[Any, ...]], requests: int) -> dict[str, Any]:
    _, build_plain_ms = _build(rows, {})
    index, build_ms = _build(rows, {"ctr_x2": {"ctr": 10.0}})
    shapes = [Request(), Request(tags=["tag7", "tag42"]), Request(near=(42.87, 74.6))]
    lat: dict[str | None, list[float]] = {None: [], "ctr_x2": []}
    orders_differ = 0
    for i in range(requests):
        req, start = shapes[i % 3], (0 if i % 2 else 100)
        for variant in ((None, "ctr_x2") if i % 2 else ("ctr_x2", None)):  # alternate
            t = time.perf_counter()
            page = index.ranked(req, start, 20, variant)
            lat[variant].append((time.perf_counter() - t) * 1000)
            if variant is None:
                control_ids = [p["post_id"] for p in page]
            else:
                treated_ids = [p["post_id"] for p in page]
        orders_differ += control_ids != treated_ids
    log = ExposureLog(topic="bench.unused")
    at = datetime.now(UTC)
    units = [f"{i:032x}" for i in range(20_000)]
    for u in units[:10_000]:  # half seen today: decision() finds them
        log._seen[("explore_ranking_v2", u)] = (business_day(at), "exposed")
    t = time.perf_counter()
    for u in units:
        arm = assign("explore_ranking_v2", u, at=at, kind=UnitKind.USER)
        if arm is not None:
            log.decision("explore_ranking_v2", u, at)
    per_call_us = (time.perf_counter() - t) / len(units) * 1e6
    return {
        "control_ms": latency_summary(lat[None]), "ctr_x2_ms": latency_summary(lat["ctr_x2"]),
        "pages_in_another_order": orders_differ / requests,
        "assign_and_decide_us": round(per_call_us, 2),
        "snapshot_build_ms": round(build_ms, 1),
        "snapshot_build_without_variant_ms": round(build_plain_ms, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = _rows(args.posts, 7)
    started = datetime.now(UTC)
    runs = [one_run(rows, args.requests) for _ in range(args.runs)]

    def med(path: tuple[str, ...]) -> float:
        vals = []
        for r in runs:
            v: Any = r
            for k in path:
                v = v[k]
            vals.append(float(v))
        return statistics.median(vals)

    median = {
        "ctr_x2_p50_ms": med(("ctr_x2_ms", "p50")), "ctr_x2_p99_ms": med(("ctr_x2_ms", "p99")),
        "assign_and_decide_us": med(("assign_and_decide_us",)),
        "snapshot_build_ms": med(("snapshot_build_ms",)),
        "pages_in_another_order": med(("pages_in_another_order",)),
    }
    baseline = {
        "control_p50_ms": med(("control_ms", "p50")), "control_p99_ms": med(("control_ms", "p99")),
        "snapshot_build_without_variant_ms": med(("snapshot_build_without_variant_ms",)),
    }
    out = {
        "name": "experiments_explore", "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "params": {"posts": args.posts, "requests": args.requests, "runs": args.runs},
        "runs": runs, "median": median, "baseline_median": baseline,
        "ratio": {
            "ranking_p50_treatment_over_control": round(
                median["ctr_x2_p50_ms"] / baseline["control_p50_ms"], 3),
            "ranking_p99_treatment_over_control": round(
                median["ctr_x2_p99_ms"] / baseline["control_p99_ms"], 3),
            "snapshot_build_with_over_without_variant": round(
                median["snapshot_build_ms"] / baseline["snapshot_build_without_variant_ms"], 3),
        },
        "notes": ["in-process: ExploreIndex.ranked() only, no SQL or HTTP; load average "
                  f"{os.getloadavg()[0]:.1f} at the end"],
    }
    RESULT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({"median": median, "baseline_median": baseline, "ratio": out["ratio"]},
                     indent=2))


if __name__ == "__main__":
    main()
