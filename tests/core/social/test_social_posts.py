"""Posts, reactions, follows and their events through the real API."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.social.social_helpers import IMAGE, code, events, make_post, post_body


def _product(client: Any, shop_id: Any) -> Any:
    with transaction(client.app.state.pool) as conn:
        return catalog.create_product(conn, shop_id, "Яблоки").id


def test_user_post_roundtrip_and_event_carries_no_personal_data(core_api: Any) -> None:
    user = make_user(core_api, "buyer")
    post = make_post(core_api, user, text="Мой урожай #Яблоки #сад", tags=["Osh", "#сад"],
                     lat="42.874600", lon="74.569800", place="Ош базары")
    assert post["owner_type"] == "user" and post["shop_id"] is None
    assert post["tags"] == ["яблоки", "сад", "osh"]
    assert post["media"][0]["object_key"] == "posts/a.jpg"
    got = core_api.get(f"/posts/{post['id']}")
    assert got.status_code == 200 and got.json()["text"] == "Мой урожай #Яблоки #сад"
    [record] = events(core_api, "social.posts", post["id"])
    assert record["event_type"] == "post.created"
    assert record["hashtags"] == ["яблоки", "сад", "osh"]
    assert record["media_count"] == 1 and record["has_video"] is False
    assert record["text_length"] == len("Мой урожай #Яблоки #сад")
    flat = repr(record)
    assert str(user.id) not in flat and "урожай" not in flat
    assert len(record["author_pseudo_id"]) == 32


def test_seller_post_links_only_its_shops_products(core_api: Any) -> None:
    seller, _, shop_id = make_seller_with_shop(core_api)
    _other, _, other_shop = make_seller_with_shop(core_api)
    mine, theirs = _product(core_api, shop_id), _product(core_api, other_shop)
    post = make_post(core_api, seller, shop_id=str(shop_id), product_ids=[str(mine)])
    assert post["owner_type"] == "seller" and post["product_ids"] == [str(mine)]
    r = core_api.post("/posts", headers=seller.headers,
                      json=post_body(shop_id=str(shop_id), product_ids=[str(theirs)]))
    assert r.status_code == 422 and code(r) == "PRODUCT_NOT_IN_SHOP"
    r = core_api.post("/posts", headers=seller.headers,
                      json=post_body(shop_id=str(other_shop)))
    assert r.status_code == 403
    r = core_api.post("/posts", headers=seller.headers,
                      json=post_body(product_ids=[str(uuid4())]))
    assert r.status_code == 404 and code(r) == "PRODUCT_NOT_FOUND"
    [record] = events(core_api, "social.posts", post["id"])
    assert str(record["shop_id"]) == str(shop_id)
    assert [str(p) for p in record["product_ids"]] == [str(mine)]


def test_input_is_validated_with_codes_never_500(core_api: Any) -> None:
    user = make_user(core_api, "buyer")
    cases = [
        (post_body(text="я" * 2201), 422, "CAPTION_TOO_LONG"),
        (post_body(text="ok\x00hidden"), 422, "INVALID_TEXT"),
        (post_body(text="bell\x07"), 422, "INVALID_TEXT"),
        (post_body(tags=[f"t{i}" for i in range(31)]), 422, "TOO_MANY_TAGS"),
        (post_body(media=[]), 422, "INVALID_REQUEST"),
        (post_body(media=[IMAGE] * 11), 422, "INVALID_REQUEST"),
        (post_body(media=[{"kind": "video", "object_key": "v.mp4", "duration_s": "61"}]),
         422, "INVALID_MEDIA"),
        (post_body(media=[{"kind": "video", "object_key": "v.mp4"}]), 422, "INVALID_MEDIA"),
        (post_body(lat="91", lon="10"), 422, "INVALID_GEO"),
        (post_body(lat="42"), 422, "INVALID_GEO"),
        (post_body(visibility="friends"), 422, "INVALID_REQUEST"),
    ]
    for body, status, expected in cases:
        r = core_api.post("/posts", headers=user.headers, json=body)
        assert (r.status_code, code(r)) == (status, expected), (body.get("text", "")[:20], r.text)
    # a 10 MB body: refused before parsing
    huge = '{"text": "' + "x" * 10_000_000 + '", "media": []}'
    r = core_api.post("/posts", headers={**user.headers, "Content-Type": "application/json"},
                      content=huge)
    assert r.status_code == 413 and code(r) == "PAYLOAD_TOO_LARGE"
    # newlines and emoji are fine; a video of 60 s is fine
    make_post(core_api, user, text="строка 1\nстрока 2 👨‍👩‍👧",
              media=[{"kind": "video", "object_key": "v.mp4", "duration_s": "60"}])


def test_like_twice_is_idempotent_and_emits_once(core_api: Any) -> None:
    author, fan = make_user(core_api, "buyer"), make_user(core_api, "buyer")
    post = make_post(core_api, author)
    first = core_api.post(f"/posts/{post['id']}/like", headers=fan.headers)
    second = core_api.post(f"/posts/{post['id']}/like", headers=fan.headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["liked"] is True and first.json()["like_count"] == 1
    likes = events(core_api, "social.reactions", post["id"])
    assert [(e["event_type"], e["reaction"]) for e in likes] == [("reaction.added", "like")]
    assert str(fan.id) not in repr(likes)
    r = core_api.delete(f"/posts/{post['id']}/like", headers=fan.headers)
    assert r.json()["liked"] is False and r.json()["like_count"] == 0
    core_api.delete(f"/posts/{post['id']}/like", headers=fan.headers)
    core_api.post(f"/posts/{post['id']}/save", headers=fan.headers)
    r = core_api.post(f"/posts/{post['id']}/share", headers=fan.headers)
    r = core_api.post(f"/posts/{post['id']}/share", headers=fan.headers)
    assert r.json()["share_count"] == 2 and r.json()["saved"] is True
    kinds = [(e["reaction"], e["active"]) for e in
             events(core_api, "social.reactions", post["id"])]
    assert kinds == [("like", True), ("like", False), ("save", True), ("share", True),
                     ("share", True)]


def test_unknown_and_invisible_posts_are_404(core_api: Any) -> None:
    author, other = make_user(core_api, "buyer"), make_user(core_api, "buyer")
    missing = uuid4()
    for method, path in [("get", f"/posts/{missing}"), ("post", f"/posts/{missing}/like"),
                         ("post", f"/posts/{missing}/save"),
                         ("get", f"/posts/{missing}/comments"),
                         ("delete", f"/posts/{missing}")]:
        r = core_api.request(method.upper(), path, headers=other.headers)
        assert r.status_code == 404 and code(r) == "POST_NOT_FOUND", (path, r.text)
    private = make_post(core_api, author, visibility="private")
    followers = make_post(core_api, author, visibility="followers")
    for p in (private, followers):
        for method, path in [("get", f"/posts/{p['id']}"), ("post", f"/posts/{p['id']}/like"),
                             ("post", f"/posts/{p['id']}/comments")]:
            r = core_api.request(method.upper(), path, headers=other.headers,
                                 json={"text": "hi"} if "comments" in path else None)
            assert r.status_code == 404 and code(r) == "POST_NOT_FOUND", (path, r.text)
        assert core_api.get(f"/posts/{p['id']}").status_code == 404  # anonymous
        assert core_api.get(f"/posts/{p['id']}", headers=author.headers).status_code == 200
    # following the author opens the followers-only post, never the private one
    r = core_api.post("/follow", headers=other.headers,
                      json={"target_type": "user", "target_id": str(author.id)})
    assert r.status_code == 200 and r.json()["changed"] is True
    assert core_api.get(f"/posts/{followers['id']}", headers=other.headers).status_code == 200
    assert core_api.get(f"/posts/{private['id']}", headers=other.headers).status_code == 404
    # a stranger cannot change someone else's post
    r = core_api.delete(f"/posts/{followers['id']}", headers=other.headers)
    assert r.status_code == 403


def test_follow_events_and_targets(core_api: Any) -> None:
    user = make_user(core_api, "buyer")
    _, _, shop_id = make_seller_with_shop(core_api)
    body = {"target_type": "shop", "target_id": str(shop_id)}
    assert core_api.post("/follow", headers=user.headers, json=body).json()["changed"]
    assert not core_api.post("/follow", headers=user.headers, json=body).json()["changed"]
    assert core_api.request("DELETE", "/follow", headers=user.headers,
                            json=body).json()["changed"]
    r = core_api.post("/follow", headers=user.headers,
                      json={"target_type": "shop", "target_id": str(uuid4())})
    assert r.status_code == 404 and code(r) == "FOLLOW_TARGET_NOT_FOUND"
    r = core_api.post("/follow", headers=user.headers,
                      json={"target_type": "user", "target_id": str(user.id)})
    assert r.status_code == 422 and code(r) == "INVALID_FOLLOW_TARGET"
    from tests.core.social.social_helpers import all_payload_bytes
    with transaction(core_api.app.state.pool) as conn:
        rows = conn.execute(
            "select entity_id from outbox where topic = 'social.follows'").fetchall()
    assert rows
    for payload in all_payload_bytes(core_api, "social.follows"):
        assert str(user.id).encode() not in payload


def test_pin_hide_visibility_delete(core_api: Any) -> None:
    seller, _, shop_id = make_seller_with_shop(core_api)
    viewer = make_user(core_api, "buyer")
    ids = [make_post(core_api, seller, shop_id=str(shop_id))["id"] for _ in range(4)]
    for pid in ids[:3]:
        r = core_api.patch(f"/posts/{pid}", headers=seller.headers, json={"pinned": True})
        assert r.status_code == 200 and r.json()["pinned"] is True
    r = core_api.patch(f"/posts/{ids[3]}", headers=seller.headers, json={"pinned": True})
    assert r.status_code == 409 and code(r) == "PIN_LIMIT_REACHED"
    core_api.patch(f"/posts/{ids[0]}", headers=seller.headers, json={"pinned": False})
    assert core_api.patch(f"/posts/{ids[3]}", headers=seller.headers,
                          json={"pinned": True}).status_code == 200
    r = core_api.patch(f"/posts/{ids[1]}", headers=seller.headers, json={"hidden": True})
    assert r.json()["status"] == "hidden"
    assert core_api.get(f"/posts/{ids[1]}", headers=viewer.headers).status_code == 404
    core_api.patch(f"/posts/{ids[1]}", headers=seller.headers, json={"hidden": False})
    assert core_api.get(f"/posts/{ids[1]}", headers=viewer.headers).status_code == 200
    assert core_api.delete(f"/posts/{ids[1]}", headers=seller.headers).status_code == 200
    assert core_api.get(f"/posts/{ids[1]}", headers=seller.headers).status_code == 404
    types = [e["event_type"] for e in events(core_api, "social.posts", ids[1])]
    assert types == ["post.created", "post.pinned", "post.hidden", "post.unhidden",
                     "post.deleted"]
