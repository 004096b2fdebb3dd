"""Comments: every comments_mode allowed and refused, verified purchases, block lists,
cursor pagination, comment events."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.social.social_helpers import code, events, make_post, paid_order


def _set_mode(client: Any, seller: Any, shop_id: Any, mode: str | None) -> None:
    r = client.patch(f"/shops/{shop_id}/social", headers=seller.headers,
                     json={"comments_mode": mode})
    assert r.status_code == 200, r.text
    assert r.json()["effective_comments_mode"] == (mode or "all")


def _comment(client: Any, user: Any, post_id: str, text: str = "Хороший товар") -> Any:
    return client.post(f"/posts/{post_id}/comments", headers=user.headers, json={"text": text})


@pytest.fixture
def shop_post(core_api: Any) -> tuple[Any, Any, Any, str]:
    seller, merchant_id, shop_id = make_seller_with_shop(core_api)
    post = make_post(core_api, seller, shop_id=str(shop_id))
    return seller, merchant_id, shop_id, post["id"]


def test_mode_all_lets_anyone_comment(core_api: Any, shop_post: Any) -> None:
    seller, _, shop_id, post_id = shop_post
    _set_mode(core_api, seller, shop_id, "all")
    r = _comment(core_api, make_user(core_api, "buyer"), post_id)
    assert r.status_code == 201 and r.json()["verified_purchase"] is False


def test_mode_off_refuses_everyone_but_the_author(core_api: Any, shop_post: Any) -> None:
    seller, _, shop_id, post_id = shop_post
    _set_mode(core_api, seller, shop_id, "off")
    r = _comment(core_api, make_user(core_api, "buyer"), post_id)
    assert r.status_code == 403 and code(r) == "COMMENTS_OFF"
    assert _comment(core_api, seller, post_id).status_code == 201


def test_mode_buyers_only_needs_a_verified_purchase(core_api: Any, shop_post: Any) -> None:
    seller, merchant_id, shop_id, post_id = shop_post
    _set_mode(core_api, seller, shop_id, "buyers_only")
    buyer = make_user(core_api, "buyer")
    r = _comment(core_api, buyer, post_id)
    assert r.status_code == 403 and code(r) == "COMMENTS_BUYERS_ONLY"
    # an order from another shop does not count
    _, other_merchant, other_shop = make_seller_with_shop(core_api)
    paid_order(core_api, buyer.id, other_shop, other_merchant)
    assert code(_comment(core_api, buyer, post_id)) == "COMMENTS_BUYERS_ONLY"
    paid_order(core_api, buyer.id, shop_id, merchant_id)
    r = _comment(core_api, buyer, post_id)
    assert r.status_code == 201 and r.json()["verified_purchase"] is True
    [event] = events(core_api, "social.comments", r.json()["id"])
    assert event["verified_purchase"] is True and event["status"] == "visible"
    assert event["text_length"] == len("Хороший товар")
    assert "Хороший" not in repr(event) and str(buyer.id) not in repr(event)


def test_mode_followers_only(core_api: Any, shop_post: Any) -> None:
    seller, _, shop_id, post_id = shop_post
    _set_mode(core_api, seller, shop_id, "followers_only")
    fan = make_user(core_api, "buyer")
    r = _comment(core_api, fan, post_id)
    assert r.status_code == 403 and code(r) == "COMMENTS_FOLLOWERS_ONLY"
    core_api.post("/follow", headers=fan.headers,
                  json={"target_type": "shop", "target_id": str(shop_id)})
    assert _comment(core_api, fan, post_id).status_code == 201


def test_platform_default_and_shop_reset(core_api: Any, shop_post: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.settings import get_settings
    seller, _, shop_id, post_id = shop_post
    monkeypatch.setattr(get_settings().policy, "social_comments_mode", "off")
    r = _comment(core_api, make_user(core_api, "buyer"), post_id)
    assert code(r) == "COMMENTS_OFF"
    r = core_api.patch(f"/shops/{shop_id}/social", headers=seller.headers,
                       json={"comments_mode": "all"})
    assert r.json() == {"shop_id": str(shop_id), "comments_mode": "all",
                        "effective_comments_mode": "all"}
    assert _comment(core_api, make_user(core_api, "buyer"), post_id).status_code == 201
    # a user's post follows the platform default
    author = make_user(core_api, "buyer")
    user_post = make_post(core_api, author)
    assert code(_comment(core_api, make_user(core_api, "buyer"), user_post["id"])) == \
        "COMMENTS_OFF"
    # only the shop's owner sets its policy
    other = make_user(core_api, "seller")
    r = core_api.patch(f"/shops/{shop_id}/social", headers=other.headers,
                       json={"comments_mode": "off"})
    assert r.status_code == 403


def test_blocked_commenter_is_refused_and_hidden(core_api: Any) -> None:
    author, troll, reader = (make_user(core_api, "buyer") for _ in range(3))
    post = make_post(core_api, author)
    before = _comment(core_api, troll, post["id"], "первый")
    assert before.status_code == 201
    r = core_api.post("/blocks", headers=author.headers,
                      json={"target_type": "user", "target_id": str(troll.id)})
    assert r.status_code == 200 and r.json()["changed"] is True
    r = _comment(core_api, troll, post["id"])
    assert r.status_code == 403 and code(r) == "COMMENT_BLOCKED"
    # the blocker no longer sees the troll's comment; others still do
    mine = core_api.get(f"/posts/{post['id']}/comments", headers=author.headers).json()
    theirs = core_api.get(f"/posts/{post['id']}/comments", headers=reader.headers).json()
    assert before.json()["id"] not in [c["id"] for c in mine["items"]]
    assert before.json()["id"] in [c["id"] for c in theirs["items"]]
    # and the troll's posts disappear for the blocker
    troll_post = make_post(core_api, troll)
    assert core_api.get(f"/posts/{troll_post['id']}", headers=author.headers).status_code == 404
    core_api.request("DELETE", "/blocks", headers=author.headers,
                     json={"target_type": "user", "target_id": str(troll.id)})
    assert core_api.get(f"/posts/{troll_post['id']}", headers=author.headers).status_code == 200


def test_comment_pagination_and_delete(core_api: Any) -> None:
    author, other = make_user(core_api, "buyer"), make_user(core_api, "buyer")
    post = make_post(core_api, author)
    ids = [_comment(core_api, author, post["id"], f"комментарий {i}").json()["id"]
           for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = core_api.get(f"/posts/{post['id']}/comments", params=params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    r = core_api.get(f"/posts/{post['id']}/comments", params={"cursor": "garbage!"})
    assert r.status_code == 422 and code(r) == "INVALID_CURSOR"
    assert core_api.delete(f"/comments/{ids[0]}", headers=other.headers).status_code == 403
    assert core_api.delete(f"/comments/{ids[0]}", headers=author.headers).status_code == 200
    r = core_api.delete(f"/comments/{uuid4()}", headers=author.headers)
    assert r.status_code == 404 and code(r) == "COMMENT_NOT_FOUND"
    types = [e["event_type"] for e in events(core_api, "social.comments", ids[0])]
    assert types == ["comment.created", "comment.deleted"]
    r = _comment(core_api, other, post["id"], "x\x1b[31m")
    assert r.status_code == 422 and code(r) == "INVALID_TEXT"
    r = _comment(core_api, other, post["id"], "я" * 2201)
    assert r.status_code == 422 and code(r) == "CAPTION_TOO_LONG"
