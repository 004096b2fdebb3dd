"""Explore ranked from the lakehouse, end to end on the real services.

Three posts are made through the core API; with no ranking yet Explore serves them newest
first (cold start: freshness only). Then buyers like, save, share and comment on the OLDEST
post through the API and the apps send impressions and clicks on it through POST /events.
The outbox relay publishes the social changes, the intake the behavioural events; the landing
lands them in Delta, dbt builds `explore_post_scores` in ClickHouse, Dagster's
`explore_scores` asset writes the ranking back to the core, and Explore now serves the oldest
post first, with `explain` showing the parts that put it there. `post_metric_daily` counts
exactly what was sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.settings import REPO_ROOT, get_settings
from marketplace_core.migrate import apply_migrations
from tests.integration.apps import serving_api
from tests.integration.test_lake_spine import _count, _delete_prefix, _wait, patched_env

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

LANDED = "social_posts,social_reactions,social_comments,social_follows,analytics_raw"
IMPRESSIONS, CLICKS, LIKERS = 12, 4, 3


def _run(env: dict[str, str], *args: str, timeout: float = 900
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def world(make_database: Callable[[], str],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    run = uuid.uuid4().hex[:10]
    logs: Path = tmp_path_factory.mktemp("explore-logs")
    dsn = make_database()
    apply_migrations(dsn)
    env = {"POSTGRES_DSN": dsn, "LAKE_PREFIX": f"test/{run}",
           "WAREHOUSE_PATH": str(tmp_path_factory.mktemp("warehouse")),
           # this lake lands only what this test sends, not the shared broker's history
           "LANDING_STARTING_TIMESTAMP_MS": str(int(time.time() * 1000) - 5_000)}
    with open(logs / "relay.log", "ab") as out:
        relay = subprocess.Popen([sys.executable, "-m", "marketplace_core.outbox.relay"],
                                 cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        with patched_env(env):
            from fastapi.testclient import TestClient

            from marketplace_core.api.app import create_app

            with TestClient(create_app(dsn, run_sweeper=False)) as client:
                yield {"env": env, "dsn": dsn, "client": client, "logs": logs}
    finally:
        relay.terminate()
        relay.wait(15)
        _delete_prefix(env["LAKE_PREFIX"])


def _explore(client: Any) -> list[dict[str, Any]]:
    client.app.state.explore_index = None  # a fresh snapshot, not the process's cached one
    r = client.get("/feed/explore", params={"limit": 10, "explain": 1})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_engagement_landed_in_the_lake_reorders_explore(world: dict[str, Any]) -> None:
    from tests.core.auth_helpers import make_user
    from tests.core.social.social_helpers import make_post

    client, env, dsn = world["client"], world["env"], world["dsn"]
    author = make_user(client, "buyer")
    old, middle, new = (make_post(client, author)["id"] for _ in range(3))
    cold = [p["id"] for p in _explore(client) if p["id"] in (old, middle, new)]
    assert cold == [new, middle, old], "cold start: newest first"

    fans = [make_user(client, "buyer") for _ in range(LIKERS)]
    for fan in fans:
        for action in ("like", "save"):
            r = client.post(f"/posts/{old}/{action}", headers=fan.headers)
            assert r.status_code in (200, 201), r.text
    r = client.post(f"/posts/{old}/share", headers=fans[0].headers)
    assert r.status_code in (200, 201), r.text
    r = client.post(f"/posts/{old}/comments", headers=fans[1].headers,
                    json={"text": "Где вы находитесь на Дордое?"})
    assert r.status_code == 201, r.text

    now = datetime.now(UTC).isoformat()
    seen = [{"event_id": str(uuid.uuid4()), "event_type": "post_impression",
             "occurred_at": now, "session_id": f"s-{n}", "anonymous_id": f"anon-{n}",
             "surface": "explore", "target_type": "post", "target_id": old, "position": 2}
            for n in range(IMPRESSIONS)]
    clicks = [{**e, "event_id": str(uuid.uuid4()), "event_type": "click"}
              for e in seen[:CLICKS]]
    r = client.post("/events", json={"events": seen + clicks})
    assert r.status_code == 202, r.text
    statuses = [e["status"] for e in r.json()["results"]]
    assert statuses == ["accepted"] * (IMPRESSIONS + CLICKS), r.json()

    _wait("the outbox to drain",
          lambda: _count(dsn, "select count(*) from outbox where published_at is null") == 0)
    landed = _run(env, "-m", "pipelines.landing", "--available-now", "--tables", LANDED)
    assert landed.returncode == 0, landed.stderr[-4000:]

    with serving_api(env, world["logs"] / "serving-api.log") as url:
        r = httpx.post(f"{url}/internal/refresh", timeout=900,
                       json={"args": ["build", "--select", "+explore_post_scores",
                                      "+post_metric_daily", "--indirect-selection",
                                      "cautious"]},
                       headers={"X-Internal-Token": get_settings().internal_token})
        assert r.status_code == 200, r.text
        failed = [n for n in r.json()["nodes"] if n["status"] not in ("success", "pass")]
        assert r.json()["success"] and not failed, failed

        import dagster as dg

        from orchestration.defs.social.assets import explore_scores

        with patched_env({"SERVING_API_PORT": url.rsplit(":", 1)[1]}):  # the asset reads here
            result = dg.materialize([explore_scores])
        assert result.success
        metrics = httpx.get(f"{url}/internal/marts/post_metric_daily",
                            headers={"X-Internal-Token": get_settings().internal_token},
                            timeout=60).json()["rows"]

    ranked = [p for p in _explore(client) if p["id"] in (old, middle, new)]
    assert ranked[0]["id"] == old, ranked
    parts = ranked[0]["score_parts"]
    assert parts["engagement"] > 0 and parts["ctr"] > ranked[1]["score_parts"]["ctr"], parts
    assert ranked[0]["score"] > ranked[1]["score"]

    [day] = [m for m in metrics if m["post_id"] == old]
    assert (day["impressions"], day["clicks"], day["reach"]) == (IMPRESSIONS, CLICKS,
                                                                 IMPRESSIONS)
    assert (day["likes"], day["saves"], day["shares"], day["comments"]) == (LIKERS, LIKERS, 1, 1)
