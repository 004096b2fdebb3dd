"""Following feed (pins, cursor), Explore (order from a given explore_scores, request-time
parts, explain, every exclusion), and map clustering."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from marketplace_core.social.ranking import (
    COLD_START_WEIGHT,
    GEO_WEIGHT,
    TAG_WEIGHT,
    ExploreIndex,
    ExploreScore,
    replace_explore_scores,
)
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.social.social_helpers import code, make_post


@pytest.fixture
def fresh_index(core_api: Any) -> ExploreIndex:
    index = ExploreIndex(check_every_s=0, cold_every_s=0)
    core_api.app.state.explore_index = index
    return index


def _scores(client: Any, scores: dict[str, float]) -> None:
    with transaction(client.app.state.pool) as conn:
        n = replace_explore_scores(conn, [
            ExploreScore(UUID(pid), s, {"engagement": s * 0.75, "quality": s * 0.25})
            for pid, s in scores.items()])
    assert n == len(scores)


def _explore(client: Any, user: Any = None, **params: Any) -> dict[str, Any]:
    r = client.get("/feed/explore", params=params, headers=user.headers if user else {})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _ids(page: dict[str, Any]) -> list[str]:
    return [p["id"] for p in page["items"]]


def test_explore_orders_by_stored_score_with_explain(core_api: Any, fresh_index: Any) -> None:
    author = make_user(core_api, "buyer")
    a, b, c = (make_post(core_api, author)["id"] for _ in range(3))
    unscored = make_post(core_api, author)["id"]
    _scores(core_api, {a: 100.0, b: 300.0, c: 200.0})
    page = _explore(core_api, limit=3, explain=1)  # anonymous guest
    assert _ids(page) == [b, c, a]
    top = page["items"][0]
    assert top["score"] == pytest.approx(300.0)
    assert top["score_parts"] == {"engagement": 225.0, "quality": 75.0, "stored_score": 300.0}
    # without explain: no parts; cursor pagination continues after the scored posts
    first = _explore(core_api, limit=2)
    assert _ids(first) == [b, c] and first["items"][0]["score_parts"] is None
    second = _explore(core_api, limit=2, cursor=first["next_cursor"])
    assert _ids(second)[0] == a
    # unscored posts follow with their cold-start score (freshness only)
    assert second["items"][1]["score"] <= COLD_START_WEIGHT
    later = _explore(core_api, limit=50, explain=1)
    [cold] = [p for p in later["items"] if p["id"] == unscored]
    assert set(cold["score_parts"]) == {"cold_start", "stored_score"}
    r = core_api.get("/feed/explore", params={"cursor": "%%%"})
    assert r.status_code == 422 and code(r) == "INVALID_CURSOR"


def test_explore_request_time_parts(core_api: Any, fresh_index: Any) -> None:
    author = make_user(core_api, "buyer")
    here = make_post(core_api, author, lat="42.870000", lon="74.600000")["id"]
    tagged = make_post(core_api, author, tags=["plov"])["id"]
    plain = make_post(core_api, author)["id"]
    _scores(core_api, {plain: 10.2, here: 10.0, tagged: 10.1})
    assert _ids(_explore(core_api, limit=3)) == [plain, tagged, here]
    near = _explore(core_api, limit=3, near="42.870000,74.600000", explain=1)
    assert _ids(near) == [here, plain, tagged]
    assert near["items"][0]["score_parts"]["geo"] == pytest.approx(GEO_WEIGHT, abs=1e-6)
    assert near["items"][0]["score"] == pytest.approx(10.0 + GEO_WEIGHT, abs=1e-6)
    by_tag = _explore(core_api, limit=3, tags="PLOV,manty", explain=1)
    assert _ids(by_tag) == [tagged, plain, here]
    assert by_tag["items"][0]["score_parts"]["tags"] == pytest.approx(TAG_WEIGHT / 2)


def test_explore_never_shows_what_the_viewer_may_not_see(core_api: Any,
                                                         fresh_index: Any) -> None:
    author, viewer, banned = (make_user(core_api, "buyer") for _ in range(3))
    admin = make_user(core_api, "admin")
    seller, _, shop_id = make_seller_with_shop(core_api)
    ok = make_post(core_api, author)["id"]
    deleted = make_post(core_api, author)["id"]
    hidden = make_post(core_api, author)["id"]
    private = make_post(core_api, author, visibility="private")["id"]
    followers = make_post(core_api, author, visibility="followers")["id"]
    flagged = make_post(core_api, author, text="казино")["id"]
    by_banned = make_post(core_api, banned)["id"]
    by_shop = make_post(core_api, seller, shop_id=str(shop_id))["id"]
    hidden_for_me = make_post(core_api, author)["id"]
    everything = [ok, deleted, hidden, private, followers, flagged, by_banned, by_shop,
                  hidden_for_me]
    _scores(core_api, {pid: 1000.0 - i for i, pid in enumerate(everything)})
    core_api.delete(f"/posts/{deleted}", headers=author.headers)
    core_api.patch(f"/posts/{hidden}", headers=author.headers, json={"hidden": True})
    with transaction(core_api.app.state.pool) as conn:
        from marketplace_core.accounts.principal import AuthenticatedUser
        from marketplace_core.social.moderation import shadow_ban
        shadow_ban(conn, AuthenticatedUser(admin.id, "admin"), banned.id, "test")
    core_api.post("/blocks", headers=viewer.headers,
                  json={"target_type": "shop", "target_id": str(shop_id)})
    core_api.post(f"/posts/{hidden_for_me}/hide", headers=viewer.headers)
    seen = set(_ids(_explore(core_api, viewer, limit=50)))
    assert ok in seen
    assert not seen & {deleted, hidden, private, followers, flagged, by_banned, by_shop,
                       hidden_for_me}
    guest = set(_ids(_explore(core_api, limit=50)))
    assert {ok, by_shop, hidden_for_me} <= guest and by_banned not in guest
    # the shadow-banned author still finds their own post
    assert by_banned in set(_ids(_explore(core_api, banned, limit=50)))


def test_following_feed_pins_first_and_pages(core_api: Any) -> None:
    seller, _, shop_id = make_seller_with_shop(core_api)
    friend, reader = make_user(core_api, "buyer"), make_user(core_api, "buyer")
    shop_posts = [make_post(core_api, seller, shop_id=str(shop_id))["id"] for _ in range(4)]
    friend_posts = [make_post(core_api, friend)["id"] for _ in range(2)]
    make_post(core_api, make_user(core_api, "buyer"))  # not followed
    core_api.patch(f"/posts/{shop_posts[0]}", headers=seller.headers, json={"pinned": True})
    for target in ({"target_type": "shop", "target_id": str(shop_id)},
                   {"target_type": "user", "target_id": str(friend.id)}):
        core_api.post("/follow", headers=reader.headers, json=target)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = core_api.get("/feed/following", headers=reader.headers, params=params)
        assert r.status_code == 200, r.text
        seen += _ids(r.json())
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    newest_first = [*reversed(friend_posts), *reversed(shop_posts[1:])]
    assert seen == [shop_posts[0], *newest_first]
    core_api.post(f"/posts/{friend_posts[0]}/hide", headers=reader.headers)
    r = core_api.get("/feed/following", headers=reader.headers, params={"limit": 50})
    assert friend_posts[0] not in _ids(r.json())
    assert core_api.get("/feed/following").status_code == 401


def test_map_posts_cluster_by_zoom(core_api: Any) -> None:
    author = make_user(core_api, "buyer")
    # a remote spot of our own: two posts 50 m apart, one 20 km away
    lat0, lon0 = -54.0, -160.0  # well inside one grid cell at zoom 2 and at zoom 10
    pts = [(lat0, lon0), (lat0 + 0.0005, lon0), (lat0 + 0.18, lon0)]
    ids = [make_post(core_api, author, lat=f"{la:.6f}", lon=f"{lo:.6f}")["id"]
           for la, lo in pts]
    bbox = f"{lon0 - 1},{lat0 - 1},{lon0 + 1},{lat0 + 1}"
    far = core_api.get("/map/posts", params={"bbox": bbox, "zoom": 2}).json()
    assert [c["count"] for c in far["clusters"]] == [3] and far["clusters"][0]["id"] is None
    mid = core_api.get("/map/posts", params={"bbox": bbox, "zoom": 10}).json()
    assert sorted(c["count"] for c in mid["clusters"]) == [1, 2]
    assert [c["id"] for c in mid["clusters"] if c["count"] == 1] == [ids[2]]
    near = core_api.get("/map/posts", params={
        "bbox": bbox, "zoom": 18, "near": f"{lat0},{lon0}", "radius_km": 1}).json()
    assert sorted(c["id"] for c in near["clusters"]) == sorted(ids[:2])
    r = core_api.get("/map/posts", params={"bbox": "1,2,3", "zoom": 5})
    assert r.status_code == 422 and code(r) == "INVALID_BBOX"
    r = core_api.get("/map/posts", params={"bbox": "10,10,5,5", "zoom": 5})
    assert code(r) == "INVALID_BBOX"
    # a private post is on its author's map only
    make_post(core_api, author, lat=f"{lat0:.6f}", lon=f"{lon0 + 0.5:.6f}",
              visibility="private")
    total = sum(c["count"] for c in core_api.get(
        "/map/posts", params={"bbox": bbox, "zoom": 2}).json()["clusters"])
    mine = sum(c["count"] for c in core_api.get(
        "/map/posts", params={"bbox": bbox, "zoom": 2}, headers=author.headers
    ).json()["clusters"])
    assert (total, mine) == (3, 4)


def test_map_shops(core_api: Any) -> None:
    _, merchant_id, _ = make_seller_with_shop(core_api)
    lat0, lon0 = 65.0, 165.0  # inside one grid cell at zoom 4 and at zoom 11
    with transaction(core_api.app.state.pool) as conn:
        for dlat in (0.0, 0.001, 0.3):
            catalog.create_shop(conn, merchant_id, "Map shop",
                                lat=Decimal(f"{lat0 + dlat:.6f}"), lon=Decimal(f"{lon0:.6f}"))
    bbox = f"{lon0 - 1},{lat0 - 1},{lon0 + 1},{lat0 + 1}"
    low = core_api.get("/map/shops", params={"bbox": bbox, "zoom": 4}).json()
    assert [c["count"] for c in low["clusters"]] == [3]
    high = core_api.get("/map/shops", params={"bbox": bbox, "zoom": 11}).json()
    assert sorted(c["count"] for c in high["clusters"]) == [1, 2]
    within = core_api.get("/map/shops", params={
        "bbox": bbox, "zoom": 4, "near": f"{lat0},{lon0}", "radius_km": 5}).json()
    assert [c["count"] for c in within["clusters"]] == [2]


def test_shadow_ban_and_blocks_reach_the_map_and_following(core_api: Any) -> None:
    banned, fan, blocker = (make_user(core_api, "buyer") for _ in range(3))
    admin = make_user(core_api, "admin")
    lat0, lon0 = 10.0, 10.0  # a cell of our own
    post = make_post(core_api, banned, lat=f"{lat0:.6f}", lon=f"{lon0:.6f}")
    for viewer in (fan, blocker):
        core_api.post("/follow", headers=viewer.headers,
                      json={"target_type": "user", "target_id": str(banned.id)})
    core_api.post("/blocks", headers=blocker.headers,
                  json={"target_type": "user", "target_id": str(banned.id)})
    bbox = f"{lon0 - 1},{lat0 - 1},{lon0 + 1},{lat0 + 1}"

    def on_map(user: Any) -> int:
        r = core_api.get("/map/posts", params={"bbox": bbox, "zoom": 3},
                         headers=user.headers if user else {})
        return sum(c["count"] for c in r.json()["clusters"])

    def in_feed(user: Any) -> bool:
        r = core_api.get("/feed/following", headers=user.headers, params={"limit": 50})
        return post["id"] in _ids(r.json())

    assert (on_map(fan), on_map(blocker), on_map(None)) == (1, 0, 1)
    assert in_feed(fan) and not in_feed(blocker)
    r = core_api.post(f"/moderation/shadow-bans/{banned.id}", headers=admin.headers)
    assert r.status_code == 200
    assert (on_map(fan), on_map(None), on_map(banned)) == (0, 0, 1)
    assert not in_feed(fan)
