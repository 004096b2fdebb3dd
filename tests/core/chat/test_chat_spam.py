"""Spam and abuse (seed 000 §3.10): per-account message and opening rates, repeated texts,
stop words (the policy's lists, not the handler's), blocks both ways, reports and the
moderators' queue. Each refusal has its stable code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from infra.settings import get_settings
from marketplace_core.chat.policy import ChatPolicy, set_policy
from marketplace_core.db import transaction
from tests.core.auth_helpers import make_user
from tests.core.chat.conftest import LENIENT, World, error, ok, open_chat, send


def _policy(**changes: Any) -> None:
    set_policy(ChatPolicy(**{**LENIENT.__dict__, **changes}))


def test_message_rate_per_account(api: Any, world: World) -> None:
    _policy(messages_per_second=0.001, message_burst=3)
    cid = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]
    for i in range(3):
        send(api, world.buyer, cid, f"вопрос {i}")
    refused = api.post(f"/chat/conversations/{cid}/messages", headers=world.buyer.headers,
                       json={"text": "вопрос 4"})
    assert error(refused, 429) == "CHAT_RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) >= 1
    # the limit is the account's, not the conversation's; the shop is not limited by it
    other = open_chat(api, world.buyer, world.shop_id,
                      product_id=str(world.product_id))["conversation"]["id"]
    assert error(api.post(f"/chat/conversations/{other}/messages", headers=world.buyer.headers,
                          json={"text": "ещё"}), 429) == "CHAT_RATE_LIMITED"
    send(api, world.seller, cid, "отвечаю")


def test_opening_rate_per_account(api: Any, world: World) -> None:
    _policy(conversations_per_second=0.001, conversation_burst=2)
    shops = [world.shop_id, world.other_shop_id]
    for shop in shops:
        open_chat(api, world.other_buyer, shop)
    assert open_chat(api, world.other_buyer, world.shop_id)["created"] is False  # free
    assert error(api.post("/chat/conversations", headers=world.other_buyer.headers, json={
        "shop_id": str(world.shop_id), "product_id": str(world.product_id)}), 429) == \
        "CHAT_RATE_LIMITED"


def test_repeated_text_across_conversations(api: Any, world: World) -> None:
    _policy(repeat_max=2, repeat_window=timedelta(minutes=10))
    first = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]
    second = open_chat(api, world.buyer, world.other_shop_id)["conversation"]["id"]
    send(api, world.buyer, first, "Дешёвые часы, пишите в личку!")
    send(api, world.buyer, second, "дешёвые   ЧАСЫ, пишите в личку!")
    assert error(api.post(f"/chat/conversations/{first}/messages", headers=world.buyer.headers,
                          json={"text": "Дешёвые часы, пишите в личку!"}), 429) == \
        "CHAT_REPEATED_TEXT"
    for _ in range(3):  # short answers are not spam
        send(api, world.buyer, first, "Спасибо!")


def test_stop_words_come_from_the_policy(api: Any, world: World,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_STOPWORDS_EXTRA", "whatsapp, переведите на карту")
    get_settings.cache_clear()
    try:
        from_settings = ChatPolicy.from_settings()
    finally:
        monkeypatch.delenv("CHAT_STOPWORDS_EXTRA")
        get_settings.cache_clear()
    assert from_settings.extra_stopwords == ("whatsapp", "переведите на карту")
    set_policy(ChatPolicy(**{**LENIENT.__dict__,
                             "extra_stopwords": from_settings.extra_stopwords}))
    cid = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]
    url = f"/chat/conversations/{cid}/messages"
    h = world.buyer.headers
    for text in ("Пишите мне в W.h.a.t.s.A.p.p", "Переведите  на карту 500 сом",
                 "продам героин"):  # the last: the moderation list's `reject`
        assert error(api.post(url, headers=h, json={"text": text}), 422) == "CHAT_STOP_WORDS"
    # a `flag` word is delivered, and held for the moderators
    flagged = send(api, world.buyer, cid, "это не казино?")
    admin = make_user(api, "admin")
    queue = ok(api.get("/chat/reports", headers=admin.headers))
    [auto] = [r for r in queue if r["conversation_id"] == cid]
    assert auto["reporter_id"] is None and auto["message_seq"] == flagged["seq"]
    assert auto["message_body"] == "это не казино?" and "казино" in auto["reason"]
    # without the social lists, only the policy's own words count
    set_policy(ChatPolicy(**{**LENIENT.__dict__, "use_social_lists": False}))
    send(api, world.buyer, cid, "это не казино?!")


def test_blocks_both_ways(api: Any, world: World) -> None:
    cid = open_chat(api, world.buyer, world.shop_id, text="Здравствуйте")["conversation"]["id"]
    url = f"/chat/conversations/{cid}/messages"
    blocked = ok(api.post(f"/chat/conversations/{cid}/block", headers=world.seller.headers))
    assert blocked == {"conversation_id": cid, "blocked": True, "changed": True}
    assert ok(api.post(f"/chat/conversations/{cid}/block",
                       headers=world.seller.headers))["changed"] is False
    assert error(api.post(url, headers=world.buyer.headers, json={"text": "эй"}), 403) == \
        "CHAT_BLOCKED"
    assert error(api.post("/chat/conversations", headers=world.buyer.headers, json={
        "shop_id": str(world.shop_id), "product_id": str(world.product_id)}), 403) == \
        "CHAT_BLOCKED"
    send(api, world.seller, cid, "последнее слово")  # the blocker may still write
    with transaction(api.app.state.pool) as conn:
        audited = conn.execute("select action from audit_log where entity_id = %s",
                               (cid,)).fetchall()
    assert ("chat.block",) in audited
    ok(api.delete(f"/chat/conversations/{cid}/block", headers=world.seller.headers))
    send(api, world.buyer, cid, "снова можно")
    # and the other way: the buyer blocks the shop
    ok(api.post(f"/chat/conversations/{cid}/block", headers=world.buyer.headers))
    assert error(api.post(url, headers=world.seller.headers, json={"text": "алло"}), 403) == \
        "CHAT_BLOCKED"
    send(api, world.buyer, cid, "я могу")


def test_reports_and_the_moderators_queue(api: Any, world: World) -> None:
    cid = open_chat(api, world.buyer, world.shop_id, text="Купите у нас")["conversation"]["id"]
    send(api, world.seller, cid, "грубость")
    url = f"/chat/conversations/{cid}/reports"
    first = ok(api.post(url, headers=world.buyer.headers,
                        json={"reason": "оскорбление", "message_seq": 2}), 201)
    again = ok(api.post(url, headers=world.buyer.headers,
                        json={"reason": "оскорбление", "message_seq": 2}), 201)
    assert first == again
    whole = ok(api.post(url, headers=world.seller.headers, json={"reason": "спам"}), 201)
    assert whole != first
    assert error(api.post(url, headers=world.buyer.headers,
                          json={"reason": "x", "message_seq": 99}), 404) == \
        "CHAT_MESSAGE_NOT_FOUND"
    assert error(api.post(url, headers=world.buyer.headers, json={"reason": ""}), 422) == \
        "INVALID_REQUEST"
    assert error(api.get("/chat/reports", headers=world.seller.headers), 403) == "FORBIDDEN"
    admin = make_user(api, "admin")
    queue = {r["id"]: r for r in ok(api.get("/chat/reports", headers=admin.headers))}
    assert queue[first["report_id"]]["message_body"] == "грубость"
    assert queue[whole["report_id"]]["message_seq"] is None
    done = ok(api.post(f"/chat/reports/{first['report_id']}/resolve", headers=admin.headers))
    assert done["status"] == "resolved"
    assert error(api.post(f"/chat/reports/{first['report_id']}/resolve",
                          headers=admin.headers), 409) == "REPORT_ALREADY_RESOLVED"
    assert first["report_id"] not in [r["id"] for r in ok(api.get("/chat/reports",
                                                                  headers=admin.headers))]
