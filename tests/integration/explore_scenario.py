"""Explore ranked from the lakehouse: the scenario the spine world carries
(tests/integration/test_lake_spine.py).

Three posts are made through the core API; with no ranking yet Explore serves them newest
first (cold start: freshness only). Then buyers like, save, share and comment on the OLDEST
post through the API and the apps send impressions and clicks on it through POST /events.
The outbox relay publishes the social changes, the intake the behavioural events; the spine's
landing lands them in Delta with everything else, dbt builds `explore_post_scores` in
ClickHouse, Dagster's `explore_scores` asset writes the ranking back to the core, and Explore
then serves the oldest post first, with `explain` showing the parts that put it there.
`post_metric_daily` counts exactly what was sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from infra.settings import get_settings

IMPRESSIONS, CLICKS, LIKERS = 12, 4, 3


@dataclass(frozen=True)
class ExplorePosts:
    old: str
    middle: str
    new: str


def explore(client: Any) -> list[dict[str, Any]]:
    client.app.state.explore_index = None  # a fresh snapshot, not the process's cached one
    r = client.get("/feed/explore", params={"limit": 10, "explain": 1})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def send_engagement(client: Any) -> ExplorePosts:
    """Posts, then engagement on the oldest one, through the core API (in process)."""
    from tests.core.auth_helpers import make_user
    from tests.core.social.social_helpers import make_post

    author = make_user(client, "buyer")
    old, middle, new = (make_post(client, author)["id"] for _ in range(3))
    cold = [p["id"] for p in explore(client) if p["id"] in (old, middle, new)]
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
    return ExplorePosts(old, middle, new)


def check_reordered(client: Any, serving_url: str, posts: ExplorePosts) -> None:
    """After the marts are built: the ranking written back reorders Explore, and
    post_metric_daily counts exactly what was sent."""
    import dagster as dg

    from orchestration.defs.social.assets import explore_scores
    from tests.integration.test_lake_spine import patched_env

    with patched_env({"SERVING_API_PORT": serving_url.rsplit(":", 1)[1]}):  # read here
        result = dg.materialize([explore_scores])
    assert result.success
    metrics = httpx.get(f"{serving_url}/internal/marts/post_metric_daily",
                        headers={"X-Internal-Token": get_settings().internal_token},
                        timeout=60).json()["rows"]

    mine = (posts.old, posts.middle, posts.new)
    ranked = [p for p in explore(client) if p["id"] in mine]
    assert ranked[0]["id"] == posts.old, ranked
    parts = ranked[0]["score_parts"]
    assert parts["engagement"] > 0 and parts["ctr"] > ranked[1]["score_parts"]["ctr"], parts
    assert ranked[0]["score"] > ranked[1]["score"]

    [day] = [m for m in metrics if m["post_id"] == posts.old]
    assert (day["impressions"], day["clicks"], day["reach"]) == (IMPRESSIONS, CLICKS,
                                                                 IMPRESSIONS)
    assert (day["likes"], day["saves"], day["shares"], day["comments"]) == (LIKERS, LIKERS, 1, 1)
