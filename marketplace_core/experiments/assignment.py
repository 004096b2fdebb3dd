"""Deterministic assignment: the same unit gets the same arm in every process, forever.

    bucket = first 8 bytes (big-endian) of sha256(salt ‖ key ‖ unit) mod 10,000

(UTF-8 bytes, concatenated). With cumulative weights C_i (per cent) and the traffic share
T (per cent), arm i owns the buckets [100·C_i, 100·C_i + w_i·T): at T = 100 the arms tile
0..9,999; below it each arm keeps the start of its own range and the rest of the range gets
no arm. So raising T only adds units, and a unit never moves from one arm to another (the
lake could recompute every assignment from the pseudonym with the same formula).

No state, no I/O: a sha256 per call (~1 µs), cheap enough for every feed request.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from marketplace_core.experiments.registry import Experiment, UnitKind, by_key

BUCKETS = 10_000


def bucket_of(salt: str, key: str, unit: str) -> int:
    digest = hashlib.sha256(f"{salt}{key}{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def arm_for_bucket(experiment: Experiment, bucket: int) -> str | None:
    start = 0  # 100 · cumulative weight before this arm
    for arm in experiment.arms:
        if start <= bucket < start + arm.weight * experiment.traffic:
            return arm.name
        start += arm.weight * 100
    return None


def assign_in(experiment: Experiment, unit: str, *, at: datetime | None = None,
              kind: UnitKind | None = None) -> str | None:
    """The unit's arm, or None: the experiment is not live at `at` (default now), the
    unit is empty or of a kind the experiment does not randomise, or it falls outside the
    traffic share."""
    if not unit or (kind is not None and kind not in experiment.units):
        return None
    if not experiment.is_live(at or datetime.now(UTC)):
        return None
    return arm_for_bucket(experiment, bucket_of(experiment.salt, experiment.key, unit))


def assign(key: str, unit: str, *, at: datetime | None = None,
           kind: UnitKind | None = None) -> str | None:
    """The hook for any caller (the Explore feed, the ad serving): `key`'s arm for `unit`
    (a pseudonym or a guest session id), None when the unit gets none. Unknown key:
    KeyError (a typo must not silently run everyone as control)."""
    return assign_in(by_key(key), unit, at=at, kind=kind)


def arm_label(key: str, arm: str) -> str:
    """`key:arm`, as ads.events' `experiment_arm` carries it."""
    return f"{key}:{arm}"
