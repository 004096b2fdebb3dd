"""Feeds and the map (seed 000 §3.2, §4.4, §4.6, §15): Following, Explore (ranked from
the lake's `explore_scores`, served from an in-process snapshot, in the viewer's arm of
the experiment `explore_ranking_v2`), posts and shops on the map with server-side grid
clustering by zoom."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from marketplace_core.ads.serving import Context as AdContext
from marketplace_core.api.ad_slots import posts_with_ads
from marketplace_core.api.auth import CurrentUser, OptionalUser
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.social import MapCluster, MapOut, PostPage
from marketplace_core.catalog.geo import cluster_shops
from marketplace_core.db import transaction
from marketplace_core.experiments import arm_label, exposures
from marketplace_core.experiments.registry import CONTROL, EXPLORE_RANKING_V2, Status
from marketplace_core.experiments.serving import SESSION_HEADER, SESSION_ID_MAX, arm_for_request
from marketplace_core.social import feeds
from marketplace_core.social.ranking import VARIANT_WEIGHTS, ExploreIndex
from marketplace_core.social.ranking import Request as RankRequest
from marketplace_core.social.text import normalise_tag

router = APIRouter(tags=["feeds"])
map_router = APIRouter(tags=["map"])

Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=50)]
SessionId = Annotated[str | None, Header(
    alias=SESSION_HEADER, max_length=SESSION_ID_MAX, pattern=r"^[\x21-\x7e]+$",
    description="A guest's app session id (the one its events carry): the unit of "
                "experiments for guests. Ignored when signed in.")]


def explore_index(request: Request) -> ExploreIndex:
    index: ExploreIndex | None = getattr(request.app.state, "explore_index", None)
    if index is None:
        index = request.app.state.explore_index = ExploreIndex(
            pool=request.app.state.read_pool, variants=_live_variants())
    return index


def _live_variants() -> dict[str, dict[str, float]]:
    """The ranking variants of the Explore experiment's arms while it runs: a stopped
    or draft experiment costs no extra copy of the snapshot."""
    if EXPLORE_RANKING_V2.status is not Status.RUNNING:
        return {}
    return {arm: VARIANT_WEIGHTS[arm] for arm in EXPLORE_RANKING_V2.arm_names
            if arm != CONTROL}


@router.get("/feed/following", response_model=PostPage,
            summary="Posts of the shops and users you follow (pinned first, then newest)",
            description="Boosted posts (ads) sit at the ADS_FEED_SLOTS positions with "
                        "`ad` set: show its label, report with its token.",
            responses=error_responses(401, 422))
def following(request: Request, user: CurrentUser, pool: Pool, cursor: Cursor = None,
              limit: Limit = 20) -> PostPage:
    with transaction(pool) as conn:
        items, nxt = feeds.following(conn, user, cursor, limit)
        out = posts_with_ads(conn, request, user, AdContext("following"), items)
    return PostPage(items=out, next_cursor=nxt)


@router.get(
    "/feed/explore", response_model=PostPage,
    summary="Explore: ranked public posts (guests too), boosted by `near` and `tags`",
    description="Order = the lake's stored score (cold start for unscored posts: "
                "freshness only) + `geo` (proximity to `near`=lat,lon) + `tags` (share of "
                "the comma-separated `tags` the post carries). `explain=1` adds each "
                "post's score parts. Boosted posts (ads) sit at the ADS_FEED_SLOTS "
                "positions with `ad` set: show its label, report with its token. "
                "A/B test `explore_ranking_v2`: the signed-in viewer "
                "(or the guest's `X-Session-Id`) is assigned an arm by hash; arm `ctr_x2` "
                "ranks with the CTR part weighing double. The response's "
                "`X-Experiment-Arm` header names the arm (`explore_ranking_v2:ctr_x2`).",
    responses=error_responses(401, 422),
)
def explore(
    request: Request, response: Response, user: OptionalUser, pool: Pool,
    cursor: Cursor = None, limit: Limit = 20,
    tags: Annotated[str | None, Query(max_length=500)] = None,
    near: Annotated[str | None, Query(max_length=60, description="lat,lon")] = None,
    explain: Annotated[int, Query(ge=0, le=1)] = 0,
    session_id: SessionId = None,
) -> PostPage:
    req = RankRequest(
        tags=list(dict.fromkeys(normalise_tag(t) for t in (tags or "").split(",") if t.strip())),
        near=feeds.parse_point(near) if near else None)
    with transaction(pool) as conn:
        assigned = arm_for_request(
            conn, exposures.of_app(request.app.state), EXPLORE_RANKING_V2.key,
            user_id=user.id if user else None, session_id=session_id, surface="explore",
            context={"first_page": cursor is None, "limit": limit,
                     "near": req.near is not None, "tags": len(req.tags)})
        variant = None if assigned is None or assigned.arm == CONTROL else assigned.arm
        items, nxt = feeds.explore(conn, explore_index(request), user, req, cursor, limit,
                                   bool(explain), variant)
        out = posts_with_ads(conn, request, user,
                             AdContext("explore", near=req.near, tags=req.tags), items)
    if assigned is not None:
        response.headers["X-Experiment-Arm"] = arm_label(assigned.experiment_key, assigned.arm)
    return PostPage(items=out, next_cursor=nxt)


Bbox = Annotated[str, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat")]
Zoom = Annotated[int, Query(ge=0, le=22)]
Near = Annotated[str | None, Query(max_length=60, description="lat,lon for radius_km")]
Radius = Annotated[float | None, Query(gt=0, le=20000)]


@map_router.get("/map/posts", response_model=MapOut,
                summary="Posts on the map: clusters on a grid that follows the zoom",
                responses=error_responses(401, 422))
def map_posts(user: OptionalUser, pool: Pool, bbox: Bbox, zoom: Zoom = 12, near: Near = None,
              radius_km: Radius = None) -> MapOut:
    box = feeds.parse_bbox(bbox)
    point = feeds.parse_point(near) if near else None
    with transaction(pool) as conn:
        rows = feeds.cluster_posts(conn, user, box, zoom, point, radius_km)
    return MapOut(zoom=zoom, cell_deg=feeds.cell_degrees(zoom),
                  clusters=[MapCluster(**r) for r in rows])


@map_router.get("/map/shops", response_model=MapOut,
                summary="Shops on the map: clusters on a grid that follows the zoom",
                responses=error_responses(422))
def map_shops(pool: Pool, bbox: Bbox, zoom: Zoom = 12, near: Near = None,
              radius_km: Radius = None) -> MapOut:
    box = feeds.parse_bbox(bbox)
    point = feeds.parse_point(near) if near else None
    with transaction(pool) as conn:
        rows = cluster_shops(conn, box, feeds.cell_degrees(zoom), point, radius_km)
    return MapOut(zoom=zoom, cell_deg=feeds.cell_degrees(zoom),
                  clusters=[MapCluster(**r) for r in rows])
