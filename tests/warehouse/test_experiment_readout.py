"""The experiments' readout (dbt `experiment_readout`) on a small known world: exposures
and behaviour events written to a lake of our own with the landing's schemas, `dbt build
--select +experiment_readout` in-process (models and their YAML tests), and every figure
compared with numbers computed here, independently of the SQL.

The world (explore_ranking_v2; every trap is a unit that must NOT convert, or must count
once):
- control: 40 accounts + 10 guest sessions exposed; 8 accounts and 2 sessions click on
  Explore after their first exposure. Traps: a click before the exposure only, a click
  on another surface, a `view` on Explore, a session whose click carries another session
  id, and a unit exposed three times (counted once, converted by a click between its
  first and second exposure).
- ctr_x2: 50 accounts exposed; 12 click and 6 only add to cart on Explore.
- ads_creative_v1: 6 units in variant_b only (no control): no difference is computed;
  their one click is on Explore, not the ad surface, so nobody converts (p = 0: the float
  Wilson bound must not land above 0).

Needs MinIO and the cached Spark jars (the `stack` fixture).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.settings import get_settings
from tests.warehouse.lake_fixtures import TestLake, utc
from warehouse.client import get_client
from warehouse.refresh import run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

Z = 1.959963984540054  # the 97.5 % quantile of the standard normal
T0 = utc(2026, 11, 20, 10)
INGESTED = utc(2026, 11, 21, 0)
KEY, ADS = "explore_ranking_v2", "ads_creative_v1"


def _exposure(key: str, arm: str, unit: str, at: dt.datetime, *, guest: bool = False,
              surface: str = "explore") -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "occurred_at": at, "experiment_key": key,
            "arm": arm, "unit_type": "session" if guest else "user",
            "user_pseudo_id": None if guest else unit, "session_id": unit if guest else None,
            "surface": surface, "context": '{"first_page": true}'}


def _event(event_type: str, at: dt.datetime, *, user: str | None = None,
           session: str = "s-any", surface: str = "explore") -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "occurred_at": at,
            "received_at": at, "target_type": "post", "target_id": str(uuid.uuid4()),
            "session_id": session, "user_pseudo_id": user,
            "anonymous_id": None if user else "install-1", "surface": surface,
            "fingerprint": uuid.uuid4().hex}


def world() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    exposures: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    later = dt.timedelta(minutes=30)
    # control: accounts c00..c39, sessions g0..g9
    for i in range(40):
        unit, at = f"c{i:02d}", T0 + dt.timedelta(minutes=i)
        exposures.append(_exposure(KEY, "control", unit, at))
        if i < 8:
            events.append(_event("click", at + later, user=unit))
    for i in range(10):
        unit, at = f"g{i}", T0 + dt.timedelta(minutes=i)
        exposures.append(_exposure(KEY, "control", unit, at, guest=True))
        if i < 2:  # a guest's click is matched by its session
            events.append(_event("click", at + later, session=unit))
    c = T0 + dt.timedelta(minutes=39)  # account c39: three copies of its exposure
    exposures += [_exposure(KEY, "control", "c39", c + dt.timedelta(hours=h)) for h in (1, 2)]
    events.append(_event("click", c + dt.timedelta(minutes=90), user="c39"))  # -> 9 accounts
    events += [  # traps: none of these converts anybody
        _event("click", T0 - later, user="c10"),                       # before exposure
        _event("click", T0 + dt.timedelta(hours=5), user="c11", surface="feed"),
        _event("view", T0 + dt.timedelta(hours=5), user="c12"),        # not a conversion
        _event("click", T0 + dt.timedelta(hours=5), session="g-other"),
        _event("add_to_cart", T0 + dt.timedelta(hours=5), user="nobody-exposed"),
    ]
    # ctr_x2: accounts t00..t49
    for i in range(50):
        unit, at = f"t{i:02d}", T0 + dt.timedelta(minutes=i)
        exposures.append(_exposure(KEY, "ctr_x2", unit, at))
        if i < 12:
            events.append(_event("click", at + later, user=unit, session=f"st{i}"))
        elif i < 18:
            events.append(_event("add_to_cart", at + later, user=unit))
    # ads_creative_v1: variant_b only; one unit clicks, on Explore (not the ad surface)
    for i in range(6):  # n = 6: where the float Wilson bound at p = 0 comes out > 0
        exposures.append(_exposure(ADS, "variant_b", f"a{i}", T0, surface="ad"))
    events.append(_event("click", T0 + later, user="a0", surface="explore"))
    return exposures, events


# exposed, converted per (experiment, arm): counted by hand from the world above
EXPECTED_COUNTS = {(KEY, "control"): (50, 11), (KEY, "ctr_x2"): (50, 18),
                   (ADS, "variant_b"): (6, 0)}


def wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    denom = 1 + Z * Z / n
    center = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    return center - half, center + half


def test_wilson_reference_value() -> None:
    """The helper itself, against the textbook value for 10 of 50 (Newcombe 1998)."""
    low, high = wilson(10, 50)
    assert (round(low, 4), round(high, 4)) == (0.1124, 0.3304)


@pytest.fixture(scope="module")
def lake(spark: Any, lake_prefix: str, warehouse_env: Path) -> Iterator[TestLake]:
    exposures, events = world()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PREFIX", lake_prefix)
        get_settings.cache_clear()
        test_lake = TestLake(spark)
        test_lake.create_all_empty()
        test_lake.write("experiments_exposures", exposures, ingested_at=INGESTED)
        test_lake.write("analytics_raw", events, ingested_at=INGESTED)
        yield test_lake
    get_settings.cache_clear()


def test_the_readout_on_a_known_world(lake: TestLake) -> None:
    result = run_dbt(["build", "--select", "+experiment_readout"])  # lake: LAKE_PREFIX
    failed = [(n.name, n.status, n.message) for n in result.failed]
    assert result.success, (result.error, failed)
    db = get_settings().warehouse_database
    cols = ("exposed_units", "converted_units", "experiment_units", "conversion_rate",
            "ci_low", "ci_high", "control_rate", "diff_vs_control", "diff_ci_low",
            "diff_ci_high", "is_control", "first_exposed_at")
    rows = get_client().query(
        f"SELECT experiment_key, arm, {', '.join(cols)} FROM `{db}`.experiment_readout"
    ).result_rows
    got = {(r[0], r[1]): dict(zip(cols, r[2:], strict=True)) for r in rows}
    assert set(got) == set(EXPECTED_COUNTS)
    n0, x0 = EXPECTED_COUNTS[(KEY, "control")]
    p0 = x0 / n0
    for (key, arm), (n, x) in EXPECTED_COUNTS.items():
        row = got[(key, arm)]
        assert (row["exposed_units"], row["converted_units"]) == (n, x), (key, arm, row)
        assert row["experiment_units"] == (100 if key == KEY else 6)
        p = x / n
        low, high = wilson(x, n)
        assert row["conversion_rate"] == pytest.approx(p, abs=1e-12)
        assert row["ci_low"] == pytest.approx(low, abs=1e-9)
        assert row["ci_high"] == pytest.approx(high, abs=1e-9)
        assert bool(row["is_control"]) == (arm == "control")
        if key == KEY and arm != "control":
            se = math.sqrt(p * (1 - p) / n + p0 * (1 - p0) / n0)
            assert row["control_rate"] == pytest.approx(p0, abs=1e-12)
            assert row["diff_vs_control"] == pytest.approx(p - p0, abs=1e-12)
            assert row["diff_ci_low"] == pytest.approx(p - p0 - Z * se, abs=1e-9)
            assert row["diff_ci_high"] == pytest.approx(p - p0 + Z * se, abs=1e-9)
        else:
            assert row["diff_vs_control"] is None and row["diff_ci_low"] is None
    assert got[(ADS, "variant_b")]["control_rate"] is None
    nobody = got[(ADS, "variant_b")]
    assert nobody["ci_low"] == 0.0 == nobody["conversion_rate"] < nobody["ci_high"]
    # the thrice-exposed unit's first exposure is the earliest copy
    first = got[(KEY, "control")]["first_exposed_at"]
    assert first.replace(tzinfo=dt.UTC) == T0
    # the figures a reader quotes: 22 % against 36 %, +14 points
    ctr = got[(KEY, "ctr_x2")]
    assert round(ctr["control_rate"], 2) == 0.22 and round(ctr["conversion_rate"], 2) == 0.36
    assert ctr["diff_ci_low"] < 0 < ctr["diff_vs_control"] < ctr["diff_ci_high"]  # not yet sure
