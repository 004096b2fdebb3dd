"""The chat over REST on the real Postgres: opening, ordering, cursor pages, read receipts,
tenancy (another party's ids are 404, never 403), the availability request, attachments,
and the events of a message (notify.chat through the outbox, chat_started)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from marketplace_core.db import transaction
from marketplace_core.outbox.writer import decode
from schemas.topics import NOTIFY_CHAT
from tests.core.auth_helpers import make_user
from tests.core.chat.conftest import World, error, ok, open_chat, send


def test_open_send_order_and_pages(api: Any, world: World) -> None:
    opened = open_chat(api, world.buyer, world.shop_id, product_id=str(world.product_id),
                       text="Здравствуйте, есть синий?", surface="map")
    conv = opened["conversation"]
    assert opened["created"] is True and conv["subject_type"] == "product"
    assert conv["my_side"] == "buyer" and conv["last_seq"] == 1
    assert opened["message"]["seq"] == 1
    again = api.post("/chat/conversations", headers=world.buyer.headers,
                     json={"shop_id": str(world.shop_id), "product_id": str(world.product_id)})
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["conversation"]["id"] == conv["id"]
    cid = conv["id"]
    for i in range(2, 8):
        author = world.seller if i % 2 else world.buyer
        assert send(api, author, cid, f"сообщение {i}")["seq"] == i

    newest = ok(api.get(f"/chat/conversations/{cid}/messages?limit=3",
                        headers=world.seller.headers))
    assert [m["seq"] for m in newest["items"]] == [5, 6, 7]
    older = ok(api.get(f"/chat/conversations/{cid}/messages?limit=3&cursor="
                       f"{newest['next_cursor']}", headers=world.seller.headers))
    assert [m["seq"] for m in older["items"]] == [2, 3, 4]
    oldest = ok(api.get(f"/chat/conversations/{cid}/messages?limit=3&cursor="
                        f"{older['next_cursor']}", headers=world.seller.headers))
    assert [m["seq"] for m in oldest["items"]] == [1] and oldest["next_cursor"] is None
    assert oldest["items"][0]["sender_side"] == "buyer"
    after = ok(api.get(f"/chat/conversations/{cid}/messages?after_seq=2&limit=2",
                       headers=world.buyer.headers))
    assert [m["seq"] for m in after["items"]] == [3, 4]
    rest = ok(api.get(f"/chat/conversations/{cid}/messages?limit=2&cursor="
                      f"{after['next_cursor']}", headers=world.buyer.headers))
    assert [m["seq"] for m in rest["items"]] == [5, 6]
    assert error(api.get(f"/chat/conversations/{cid}/messages?cursor=garbage!",
                         headers=world.buyer.headers), 422) == "INVALID_CURSOR"


def test_read_receipts_and_unread(api: Any, world: World) -> None:
    cid = open_chat(api, world.buyer, world.shop_id, text="первое")["conversation"]["id"]
    send(api, world.buyer, cid, "второе")
    [mine] = [c for c in ok(api.get("/chat/conversations", headers=world.seller.headers))
              ["items"] if c["id"] == cid]
    assert mine["my_side"] == "shop" and mine["unread"] == 2 and mine["last_message"] == "второе"
    read = ok(api.post(f"/chat/conversations/{cid}/read", headers=world.seller.headers,
                       json={"seq": 1}))
    assert read["shop_read_seq"] == 1 and read["unread"] == 1
    ok(api.post(f"/chat/conversations/{cid}/read", headers=world.seller.headers, json={}))
    buyer_view = ok(api.get(f"/chat/conversations/{cid}", headers=world.buyer.headers))
    assert buyer_view["shop_read_seq"] == 2 and buyer_view["buyer_read_seq"] == 2
    send(api, world.seller, cid, "ответ")  # sending reads everything before it
    buyer_view = ok(api.get(f"/chat/conversations/{cid}", headers=world.buyer.headers))
    assert buyer_view["unread"] == 1 and buyer_view["shop_read_seq"] == 3
    # never moves back
    back = ok(api.post(f"/chat/conversations/{cid}/read", headers=world.seller.headers,
                       json={"seq": 0}))
    assert back["shop_read_seq"] == 3


def test_tenancy_is_404_for_everyone_else(api: Any, world: World) -> None:
    cid = open_chat(api, world.buyer, world.shop_id, text="привет")["conversation"]["id"]
    admin = make_user(api, "admin")
    for stranger in (world.other_buyer, world.other_seller, admin):
        h = stranger.headers
        assert error(api.get(f"/chat/conversations/{cid}", headers=h), 404) == \
            "CONVERSATION_NOT_FOUND"
        assert error(api.get(f"/chat/conversations/{cid}/messages", headers=h), 404) == \
            "CONVERSATION_NOT_FOUND"
        assert error(api.post(f"/chat/conversations/{cid}/messages", headers=h,
                              json={"text": "x"}), 404) == "CONVERSATION_NOT_FOUND"
        for action in ("read", "close", "block"):
            assert error(api.post(f"/chat/conversations/{cid}/{action}", headers=h,
                                  json={}), 404) == "CONVERSATION_NOT_FOUND"
        assert error(api.post(f"/chat/conversations/{cid}/reports", headers=h,
                              json={"reason": "spam"}), 404) == "CONVERSATION_NOT_FOUND"
        listed = ok(api.get("/chat/conversations", headers=h))["items"]
        assert cid not in [c["id"] for c in listed]
    # a missing id answers the same
    assert error(api.get(f"/chat/conversations/{uuid4()}", headers=world.buyer.headers),
                 404) == "CONVERSATION_NOT_FOUND"
    assert cid in [c["id"] for c in ok(api.get("/chat/conversations",
                                               headers=world.seller.headers))["items"]]
    assert cid in [c["id"] for c in ok(api.get(
        f"/chat/conversations?shop_id={world.shop_id}", headers=world.seller.headers))["items"]]
    assert ok(api.get(f"/chat/conversations?shop_id={world.other_shop_id}",
                      headers=world.seller.headers))["items"] == []
    assert error(api.get("/chat/conversations"), 401) == "UNAUTHORIZED"


def test_opening_rules(api: Any, world: World) -> None:
    h = world.buyer.headers
    assert error(api.post("/chat/conversations", headers=h, json={"shop_id": str(uuid4())}),
                 404) == "SHOP_NOT_FOUND"
    assert error(api.post("/chat/conversations", headers=h, json={
        "shop_id": str(world.other_shop_id), "product_id": str(world.product_id)}),
        422) == "PRODUCT_NOT_IN_SHOP"
    assert error(api.post("/chat/conversations", headers=h, json={
        "shop_id": str(world.shop_id), "product_id": str(uuid4())}), 404) == \
        "PRODUCT_NOT_FOUND"
    assert error(api.post("/chat/conversations", headers=h, json={
        "shop_id": str(world.shop_id), "order_id": str(uuid4())}), 404) == "ORDER_NOT_FOUND"
    assert error(api.post("/chat/conversations", headers=world.seller.headers, json={
        "shop_id": str(world.shop_id)}), 422) == "CHAT_OWN_SHOP"
    assert error(api.post("/chat/conversations", headers=h, json={
        "shop_id": str(world.shop_id), "surface": "nowhere"}), 422) == "INVALID_REQUEST"
    # a closed conversation lets a new one open about the same subject
    first = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]
    ok(api.post(f"/chat/conversations/{first}/close", headers=world.seller.headers))
    assert error(api.post(f"/chat/conversations/{first}/messages", headers=h,
                          json={"text": "ещё"}), 409) == "CHAT_CONVERSATION_CLOSED"
    second = open_chat(api, world.buyer, world.shop_id)
    assert second["created"] is True and second["conversation"]["id"] != first


def test_bad_message_input(api: Any, world: World) -> None:
    cid = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]
    h = world.buyer.headers
    url = f"/chat/conversations/{cid}/messages"
    assert error(api.post(url, headers=h, json={"text": "   "}), 422) == "CHAT_EMPTY_MESSAGE"
    assert error(api.post(url, headers=h, json={"text": "я" * 2001}), 422) == \
        "CHAT_MESSAGE_TOO_LONG"
    assert error(api.post(url, headers=h, json={"text": "a\x00b"}), 422) == "INVALID_REQUEST"
    assert error(api.post(url, headers=h, json={"text": "x", "media_ids": [str(uuid4())]}),
                 404) == "MEDIA_NOT_FOUND"
    assert error(api.post(url, headers=h, content=b"{not json"), 422) == "INVALID_REQUEST"
    assert error(api.post(url, headers=h, json={"text": "x", "client_ref": "has space"}),
                 422) == "INVALID_REQUEST"
    # a resend under the same client_ref is the same message, once
    one = send(api, world.buyer, cid, "ровно один раз", client_ref="m-1")
    two = send(api, world.buyer, cid, "ровно один раз", client_ref="m-1")
    assert one["id"] == two["id"] and one["seq"] == two["seq"]
    assert error(api.post(url, headers=h, json={"text": "другое", "client_ref": "m-1"}),
                 409) == "CHAT_CLIENT_REF_REUSED"
    page = ok(api.get(url, headers=h))
    assert [m["body"] for m in page["items"]] == ["ровно один раз"]


def test_attachment_from_the_media_pipeline(api: Any, world: World) -> None:
    with transaction(api.app.state.pool) as conn:  # a processed upload of the buyer's
        media_id = conn.execute(
            "insert into post_media (uploader_id, kind, object_key, thumb_key, width, height,"
            " status, content_type, size_bytes) values (%s, 'image', 'media/x', 'thumbs/x.jpg',"
            " 800, 600, 'ready', 'image/jpeg', 1234) returning id", (world.buyer.id,)
        ).fetchone()[0]
        pending = conn.execute(
            "insert into post_media (uploader_id, kind, object_key, status) values"
            " (%s, 'image', 'media/y', 'processing') returning id", (world.buyer.id,)
        ).fetchone()[0]
    cid = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]
    sent = send(api, world.buyer, cid, "", media_ids=[str(media_id)])
    assert sent["attachments"] == [{"media_id": str(media_id), "kind": "image",
                                    "object_key": "media/x", "thumb_key": "thumbs/x.jpg",
                                    "width": 800, "height": 600, "duration_s": None}]
    seen = ok(api.get(f"/chat/conversations/{cid}/messages", headers=world.seller.headers))
    assert seen["items"][-1]["attachments"][0]["media_id"] == str(media_id)
    # someone else's upload, or one still processing, cannot be attached
    for bad, who in ((pending, world.buyer), (media_id, world.seller)):
        assert error(api.post(f"/chat/conversations/{cid}/messages", headers=who.headers,
                              json={"media_ids": [str(bad)]}), 404) == "MEDIA_NOT_FOUND"


def test_availability_request_opens_a_conversation(api: Any, world: World) -> None:
    asked = ok(api.post(f"/shops/{world.shop_id}/availability-requests",
                        headers=world.buyer.headers,
                        json={"variant_id": str(world.variant_id)}), 201)
    cid = asked["conversation_id"]
    assert cid is not None
    conv = ok(api.get(f"/chat/conversations/{cid}", headers=world.seller.headers))
    assert conv["subject_type"] == "product" and conv["subject_id"] == str(world.product_id)
    [msg] = ok(api.get(f"/chat/conversations/{cid}/messages",
                       headers=world.seller.headers))["items"]
    assert msg["kind"] == "availability_request" and msg["sender_side"] == "buyer"
    assert msg["body"] == asked["message"] and msg["body"].startswith("Здравствуйте!")
    again = ok(api.post(f"/shops/{world.shop_id}/availability-requests",
                        headers=world.buyer.headers,
                        json={"variant_id": str(world.variant_id), "message": "Размер 42?"}),
               201)
    assert again["conversation_id"] == cid  # the open conversation continues
    assert ok(api.get(f"/chat/conversations/{cid}", headers=world.buyer.headers))[
        "last_seq"] == 2


def _notify_events(api: Any, message_id: str) -> list[dict[str, Any]]:
    with transaction(api.app.state.pool) as conn:
        rows = conn.execute("select payload from outbox where topic = %s",
                            (NOTIFY_CHAT.name,)).fetchall()
    found = [decode(NOTIFY_CHAT, bytes(r[0])) for r in rows]
    return [f for f in found if f["entity_id"] == message_id]


def test_each_message_asks_for_a_notification(api: Any, world: World) -> None:
    opened = open_chat(api, world.buyer, world.shop_id, text="Когда откроетесь?")
    cid = opened["conversation"]["id"]
    [first] = _notify_events(api, opened["message"]["id"])
    assert first["event_type"] == "chat_new_message" and first["audience"] == "shop"
    assert str(first["recipient_shop_id"]) == str(world.shop_id)
    assert first["entity_type"] == "chat_message"
    assert "Когда" not in first["data_json"]  # ids only: the text is read at delivery
    reply = send(api, world.seller, cid, "В 9 утра")
    [second] = _notify_events(api, reply["id"])
    assert second["event_type"] == "chat_reply" and second["audience"] == "user"
    assert str(second["recipient_user_id"]) == str(world.buyer.id)
    again = send(api, world.seller, cid, "Ждём вас")
    [third] = _notify_events(api, again["id"])
    assert third["event_type"] == "chat_new_message"
