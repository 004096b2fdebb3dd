"""Experiment assignment: deterministic (across calls, processes and hash seeds), split as
declared (chi-square at the 0.1 % level), traffic share honoured, and raising the share
never moves a unit between arms; declarations that cannot be right are refused."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.settings import REPO_ROOT
from marketplace_core.experiments import EXPERIMENTS, arm_label, assign, bucket_of
from marketplace_core.experiments.assignment import assign_in
from marketplace_core.experiments.registry import (
    CONTROL,
    EXPLORE_RANKING_V2,
    Arm,
    Experiment,
    Status,
    UnitKind,
    all_arm_names,
)
from marketplace_core.social.ranking import VARIANT_WEIGHTS

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
UNITS = [f"{i:032x}" for i in range(20_000)]  # pseudonym-shaped


def _experiment(weights: tuple[int, ...], traffic: int = 100, **kw: object) -> Experiment:
    args: dict[str, object] = dict(
        key="t_exp", arms=tuple(Arm(f"a{i}", w) for i, w in enumerate(weights)),
        salt="s1", start=NOW - timedelta(days=1), end=None, status=Status.RUNNING,
        traffic=traffic)
    args.update(kw)
    return Experiment(**args)  # type: ignore[arg-type]


# chi-square critical values at p = 0.001 by degrees of freedom
CHI2_001 = {1: 10.83, 2: 13.82, 3: 16.27}


def _chi2(counts: Counter[str | None], expected: dict[str | None, float]) -> float:
    return sum((counts.get(k, 0) - e) ** 2 / e for k, e in expected.items())


def test_the_bucket_is_the_documented_formula() -> None:
    unit = "0f" * 16
    digest = hashlib.sha256(b"salt" + b"key" + unit.encode()).digest()
    assert bucket_of("salt", "key", unit) == int.from_bytes(digest[:8], "big") % 10_000


def test_same_unit_same_arm_in_every_process() -> None:
    sample = [*UNITS[:200], "guest-session-42", "Ωmega-session"]
    here = {u: assign(EXPLORE_RANKING_V2.key, u, at=NOW) for u in sample}
    assert here == {u: assign(EXPLORE_RANKING_V2.key, u, at=NOW) for u in sample}
    code = ("import json, sys; from datetime import datetime, UTC\n"
            "from marketplace_core.experiments import assign\n"
            "units = json.loads(sys.stdin.read())\n"
            "at = datetime(2026, 12, 2, 12, tzinfo=UTC)\n"
            "print(json.dumps({u: assign('explore_ranking_v2', u, at=at) for u in units}))")
    for seed in ("0", "12345"):  # another process, another str-hash seed
        env = {**os.environ, "PYTHONHASHSEED": seed,
               "PYTHONPATH": str(REPO_ROOT)}
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps(sample),
                              capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                              timeout=60, check=True)
        assert json.loads(done.stdout) == here
    # pinned: a change of the formula, salt or arms would silently re-randomise everyone
    assert [here[u] for u in UNITS[:8]] == [
        "control", "ctr_x2", "ctr_x2", "ctr_x2", "ctr_x2", "control", "control", "control"]
    assert set(here.values()) == {CONTROL, "ctr_x2"}


@pytest.mark.parametrize("weights", [(50, 50), (20, 30, 50), (10, 10, 10, 70)])
def test_arms_split_as_declared(weights: tuple[int, ...]) -> None:
    exp = _experiment(weights)
    counts = Counter(assign_in(exp, u, at=NOW) for u in UNITS)
    assert None not in counts
    expected: dict[str | None, float] = {
        f"a{i}": len(UNITS) * w / 100 for i, w in enumerate(weights)}
    assert _chi2(counts, expected) < CHI2_001[len(weights) - 1], counts


def test_traffic_share_and_raising_it_moves_nobody() -> None:
    small, large = _experiment((50, 50), traffic=20), _experiment((50, 50), traffic=60)
    at20 = {u: assign_in(small, u, at=NOW) for u in UNITS}
    at60 = {u: assign_in(large, u, at=NOW) for u in UNITS}
    counts = Counter(at20.values())
    expected = {None: len(UNITS) * 0.8, "a0": len(UNITS) * 0.1, "a1": len(UNITS) * 0.1}
    assert _chi2(counts, expected) < CHI2_001[2], counts
    # every unit in at 20 % keeps its arm at 60 %; the new ones only come from "no arm"
    assert all(at60[u] == arm for u, arm in at20.items() if arm is not None)
    assert sum(a is not None for a in at60.values()) > sum(a is not None for a in at20.values())


def test_only_live_experiments_assign() -> None:
    unit = UNITS[0]
    assert assign_in(_experiment((50, 50), status=Status.DRAFT), unit, at=NOW) is None
    assert assign_in(_experiment((50, 50), status=Status.STOPPED), unit, at=NOW) is None
    assert assign_in(_experiment((50, 50), start=NOW + timedelta(hours=1)), unit, at=NOW) is None
    assert assign_in(_experiment((50, 50), end=NOW), unit, at=NOW) is None
    assert assign_in(_experiment((50, 50)), "", at=NOW) is None
    user_only = _experiment((50, 50), units=(UnitKind.USER,))
    assert assign_in(user_only, unit, at=NOW, kind=UnitKind.SESSION) is None
    assert assign_in(user_only, unit, at=NOW, kind=UnitKind.USER) is not None
    assert assign("ads_creative_v1", unit, at=NOW) is None  # declared, not started
    with pytest.raises(KeyError):
        assign("no_such_experiment", unit)
    assert arm_label("ads_creative_v1", "variant_b") == "ads_creative_v1:variant_b"


@pytest.mark.parametrize("bad", [
    {"arms": (Arm("a", 50), Arm("b", 40))},                 # not 100
    {"arms": (Arm("a", 100),)},                             # one arm
    {"arms": (Arm("a", 50), Arm("a", 50))},                 # same name twice
    {"arms": (Arm("a", 0), Arm("b", 100))},                 # empty arm
    {"traffic": 0}, {"traffic": 101}, {"salt": ""},
    {"start": datetime(2026, 12, 1)},                       # naive
])
def test_impossible_declarations_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _experiment((50, 50), **bad)


def test_declarations_agree_with_the_ranking_and_the_readout() -> None:
    # every treatment arm of the Explore test is a ranking variant the index builds
    assert set(EXPLORE_RANKING_V2.arm_names) - {CONTROL} <= set(VARIANT_WEIGHTS)
    from marketplace_core.api.routers.feeds import _live_variants

    assert _live_variants() == {"ctr_x2": {"ctr": 10.0}}  # running: the API builds it
    # the readout's accepted arms (dbt YAML) are the declared ones
    import yaml  # type: ignore[import-untyped]

    doc = yaml.safe_load((REPO_ROOT / "dbt/models/marts/experiments/_models.yml").read_text())
    readout = next(m for m in doc["models"] if m["name"] == "experiment_readout")
    arm = next(c for c in readout["columns"] if c["name"] == "arm")
    accepted = next(t["accepted_values"]["arguments"]["values"] for t in arm["data_tests"]
                    if isinstance(t, dict) and "accepted_values" in t)
    assert sorted(accepted) == all_arm_names()
    keys = next(c for c in readout["columns"] if c["name"] == "experiment_key")
    accepted_keys = next(t["accepted_values"]["arguments"]["values"]
                         for t in keys["data_tests"]
                         if isinstance(t, dict) and "accepted_values" in t)
    assert sorted(accepted_keys) == sorted(e.key for e in EXPERIMENTS)
