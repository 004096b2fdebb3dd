"""Social domain: Explore's ranking, computed in the warehouse, written back to the core.

The ranking model (`explore_post_scores`, dbt) is rebuilt by every `lake_refresh`; this
asset copies it into the core's `explore_scores` table through the social module's own
function (ARCHITECTURE: nothing flows back except declared results), so the core serves
Explore without querying the warehouse per request.
"""

import time
from typing import Any

import dagster as dg
import httpx

from infra.settings import get_settings


def read_ranking() -> list[dict[str, Any]]:
    """The ranking mart's rows, read through the process that owns the warehouse."""
    s = get_settings()
    r = httpx.get(f"{s.serving_api_url}/internal/marts/explore_post_scores",
                  headers={"X-Internal-Token": s.internal_token}, timeout=600)
    r.raise_for_status()
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


SCORE_PARTS = ("engagement", "freshness", "ctr", "seller_quality")


def push_ranking(rows: list[dict[str, Any]]) -> int:
    from uuid import UUID

    from marketplace_core.db import connect
    from marketplace_core.social.ranking import ExploreScore, replace_explore_scores

    scores = [ExploreScore(post_id=UUID(r["post_id"]), score=float(r["score"]),
                           parts={p: float(r[p]) for p in SCORE_PARTS}) for r in rows]
    with connect() as conn:  # one transaction: readers see the old ranking or the new one
        return replace_explore_scores(conn, scores)


@dg.asset(
    key="explore_scores",
    deps=[dg.AssetKey("explore_post_scores")],
    group_name="rankings",
    description="Explore's ranking written back to the core (social.explore_scores), which "
                "serves GET /feed/explore from it.",
)
def explore_scores(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    started = time.monotonic()
    rows = read_ranking()
    written = push_ranking(rows)
    top = max(rows, key=lambda r: r["score"], default=None)
    context.log.info(f"wrote {written} Explore scores")
    return dg.MaterializeResult(metadata={
        "posts_ranked": written,
        "seconds": round(time.monotonic() - started, 2),
        "top_post": top["post_id"] if top else "",
        "top_score": round(float(top["score"]), 4) if top else 0.0,
    })
