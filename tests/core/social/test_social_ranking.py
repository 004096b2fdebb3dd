"""Explore's top-k (bounded candidates) equals a brute-force ranking of every post."""

from __future__ import annotations

import math
import random
from uuid import uuid4

import numpy as np
import pytest

from marketplace_core.social.ranking import (
    GEO_RADIUS_KM,
    GEO_WEIGHT,
    TAG_WEIGHT,
    ExploreIndex,
    Request,
)

TAGS = ["plov", "manty", "fruit", "shoes", "osh", "sale"]


def _brute(rows: list[tuple], req: Request, k: int) -> list[float]:
    totals = []
    for _pid, base, lat, lon, tags in rows:
        total = base
        if req.near is not None and lat is not None:
            dy = (lat - req.near[0]) * 111.32
            dx = (lon - req.near[1]) * 111.32 * math.cos(math.radians(req.near[0]))
            total += GEO_WEIGHT * min(1.0, max(0.0, 1 - math.hypot(dx, dy) / GEO_RADIUS_KM))
        if req.tags:
            total += TAG_WEIGHT * sum(t in tags for t in req.tags) / len(req.tags)
        totals.append(total)
    return sorted(totals, reverse=True)[:k]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_top_k_matches_brute_force(seed: int) -> None:
    rnd = random.Random(seed)
    rows = []
    for _ in range(20_000):
        geo = rnd.random() < 0.4
        rows.append((uuid4(), rnd.random() ** 3,
                     42.8 + rnd.random() * 0.2 if geo else None,
                     74.5 + rnd.random() * 0.2 if geo else None,
                     rnd.sample(TAGS, rnd.randint(0, 3))))
    index = ExploreIndex()
    index.stored = index._segment(rows, cold=False)
    for req in (Request(), Request(near=(42.87, 74.59)), Request(tags=["osh"]),
                Request(tags=["fruit", "plov", "nope"], near=(42.9, 74.6))):
        for start, count in ((0, 40), (100, 40), (3000, 60)):
            got = [r["score"] for r in index.ranked(req, start, count)]
            want = _brute(rows, req, start + count)[start:]
            assert np.allclose(got, want), (req, start)
