"""/notifications: preferences (addresses sealed at rest), the test message, the providers'
signed webhooks and the unsubscribe links."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import psycopg

from marketplace_core.notifications.channels import Providers
from marketplace_core.notifications.signing import (
    SIGNATURE_HEADER,
    unsubscribe_token,
    webhook_signature,
)
from marketplace_core.notifications.worker import NotificationsWorker
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.notifications.conftest import Clock, mailbox, rows
from tests.core.notifications.helpers import event, queue


def _code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_prefs_defaults_update_and_masked_sealed_addresses(api: Any, db: Any) -> None:
    buyer = make_user(api, "buyer")
    got = api.get("/notifications/prefs", headers=buyer.headers)
    assert got.status_code == 200
    body = got.json()
    assert {c: v["enabled"] for c, v in body["channels"].items()} == \
        {"push": True, "email": True, "sms": False}
    assert body["timezone"] == "Asia/Bishkek" and body["marketing_consent"] is False
    put = api.put("/notifications/prefs", headers=buyer.headers, json={
        "locale": "en", "marketing_consent": True,
        "channels": {"sms": {"enabled": True, "categories": ["order", "pos"],
                             "quiet_hours": {"start": "22:00", "end": "08:00"}}},
        "addresses": {"email": "aigul.notify@mail.kg", "phone": "+996555123456",
                      "push_token": "fcm-0123456789abcdef"}})
    assert put.status_code == 200, put.text
    out = put.json()
    assert out["locale"] == "en" and out["channels"]["sms"]["categories"] == ["order", "pos"]
    assert out["channels"]["sms"]["quiet_hours"] == {"start": "22:00", "end": "08:00"}
    assert out["addresses"] == {"email": "a***@m***.kg", "sms": "+996 *** ** 56",
                                "push": "fcm-…cdef"}
    stored = db.execute("select channel, sealed from notification_addresses where user_id = %s",
                        (buyer.id,)).fetchall()
    assert len(stored) == 3
    for _channel, sealed in stored:
        assert sealed.startswith("fernet:")
        assert "aigul" not in sealed and "996555" not in sealed and "0123456789" not in sealed


def test_bad_prefs_are_422_with_a_stable_code(api: Any) -> None:
    buyer = make_user(api, "buyer")
    bad_category = api.put("/notifications/prefs", headers=buyer.headers,
                           json={"channels": {"push": {"categories": ["lottery"]}}})
    assert bad_category.status_code == 422 and _code(bad_category) == \
        "INVALID_NOTIFICATION_PREFS"
    bad_zone = api.put("/notifications/prefs", headers=buyer.headers,
                       json={"timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and _code(bad_zone) == "INVALID_NOTIFICATION_PREFS"
    bad_hours = api.put("/notifications/prefs", headers=buyer.headers,
                        json={"channels": {"sms": {"quiet_hours": {"start": "25:00",
                                                                   "end": "08:00"}}}})
    assert bad_hours.status_code == 422
    assert api.get("/notifications/prefs").status_code == 401


def test_shop_prefs_are_for_its_managers(api: Any) -> None:
    seller, _merchant, shop_id = make_seller_with_shop(api)
    other, _, _ = make_seller_with_shop(api)
    ok = api.put(f"/notifications/prefs?shop_id={shop_id}", headers=seller.headers,
                 json={"channels": {"sms": {"enabled": True, "categories": ["pos"]}}})
    assert ok.status_code == 200 and ok.json()["owner_type"] == "shop"
    denied = api.get(f"/notifications/prefs?shop_id={shop_id}", headers=other.headers)
    assert denied.status_code == 403


def test_test_message_for_owners_and_admins_only(api: Any, db: Any,
                                                worker: NotificationsWorker) -> None:
    buyer = make_user(api, "buyer")
    assert api.post("/notifications/test", headers=buyer.headers, json={}).status_code == 403
    seller, _merchant, _shop = make_seller_with_shop(api)
    r = api.post("/notifications/test", headers=seller.headers, json={"channel": "email"})
    assert r.status_code == 202, r.text
    [row] = rows(db, r.json()["event_id"])
    assert (row["channel"], row["template_key"], row["status"]) == \
        ("email", "test_message", "queued")
    worker.clock = lambda: row["next_attempt_at"]
    worker.dispatch_once(db)
    assert mailbox(seller.email)[0]["Subject"] == "Проверка уведомлений"


def test_push_status_webhook_marks_delivered(api: Any, db: Any, worker: NotificationsWorker,
                                             providers: Providers, clock: Clock) -> None:
    buyer = make_user(api, "buyer")
    api.put("/notifications/prefs", headers=buyer.headers,
            json={"addresses": {"push_token": "fcm-token-for-webhook-test"}})
    ev = event(buyer.id, clock=clock)
    queue(db, ev, clock)
    worker.dispatch_once(db)
    [push] = rows(db, ev.event_id)
    assert push["status"] == "sent" and push["provider"] == "push_simulator"
    assert providers.push.flush() == 1  # type: ignore[attr-defined]
    [push] = rows(db, ev.event_id)
    assert push["status"] == "delivered" and push["delivered_at"] is not None
    # a repeated report changes nothing
    body = json.dumps({"provider_ref": push["provider_ref"], "status": "failed"}).encode()
    again = api.post("/notifications/webhook/push_simulator", content=body,
                     headers={SIGNATURE_HEADER: webhook_signature(body)})
    assert again.status_code == 200 and rows(db, ev.event_id)[0]["status"] == "delivered"


def test_failed_status_report_falls_back_to_the_next_channel(
        api: Any, db: Any, worker: NotificationsWorker, clock: Clock) -> None:
    buyer = make_user(api, "buyer")
    api.put("/notifications/prefs", headers=buyer.headers,
            json={"addresses": {"push_token": "fcm-token-that-bounces"}})
    ev = event(buyer.id, clock=clock)
    queue(db, ev, clock)
    worker.dispatch_once(db)
    [push] = rows(db, ev.event_id)
    body = json.dumps({"provider_ref": push["provider_ref"], "status": "failed",
                       "error": "device unregistered"}).encode()
    r = api.post("/notifications/webhook/push_simulator", content=body,
                 headers={SIGNATURE_HEADER: webhook_signature(body)})
    assert r.status_code == 200
    push, mail = rows(db, ev.event_id)
    assert (push["status"], push["last_error"]) == ("failed", "device unregistered")
    assert (mail["channel"], mail["status"]) == ("email", "queued")


def test_webhook_with_a_bad_signature_is_401_and_logged(api: Any, caplog: Any) -> None:
    body = json.dumps({"provider_ref": "push_simulator-x", "status": "delivered"}).encode()
    for headers in ({SIGNATURE_HEADER: "sha256=" + "0" * 64}, {},
                    {SIGNATURE_HEADER: webhook_signature(body + b" ")}):
        r = api.post("/notifications/webhook/push_simulator", content=body, headers=headers)
        assert r.status_code == 401 and _code(r) == "INVALID_SIGNATURE"
    assert "bad signature" in caplog.text
    signed = {SIGNATURE_HEADER: webhook_signature(body)}
    unknown = api.post("/notifications/webhook/carrier_pigeon", content=body, headers=signed)
    assert unknown.status_code == 404 and _code(unknown) == "UNKNOWN_NOTIFICATION_PROVIDER"
    missing = api.post("/notifications/webhook/push_simulator", content=body, headers=signed)
    assert missing.status_code == 404 and _code(missing) == "NOTIFICATION_NOT_FOUND"
    garbage = b"not json"
    r = api.post("/notifications/webhook/push_simulator", content=garbage,
                 headers={SIGNATURE_HEADER: webhook_signature(garbage)})
    assert r.status_code == 422


def test_unsubscribe_link_of_an_email_turns_off_its_category(
        api: Any, db: psycopg.Connection[Any], worker: NotificationsWorker,
        clock: Clock) -> None:
    buyer = make_user(api, "buyer")
    ev = event(buyer.id, clock=clock)
    queue(db, ev, clock)
    worker.dispatch_once(db)
    worker.dispatch_once(db)
    [message] = mailbox(buyer.email)
    link = next(line.split(": ", 1)[1] for line in message["Text"].splitlines()
                if "(order)" in line)
    r = api.get(urlparse(link).path)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": str(buyer.id), "channel": "email", "category": "order"}
    prefs = api.get("/notifications/prefs", headers=buyer.headers).json()
    assert "order" not in prefs["channels"]["email"]["categories"]
    assert "chat" in prefs["channels"]["email"]["categories"]
    # the next order notification finds no channel (push has no token, e-mail said no)
    clock.advance(minutes=10)
    later = event(buyer.id, data={"orderId": "NEXT", "total": "1", "shopName": "x",
                                  "ts": "x"}, clock=clock)
    queue(db, later, clock)
    worker.dispatch_once(db)
    assert [r["channel"] for r in rows(db, later.event_id)] == ["push"]
    # "all": the channel is off
    everything = api.get(f"/notifications/unsubscribe/{unsubscribe_token(buyer.id, 'email')}")
    assert everything.status_code == 200 and everything.json()["category"] == "*"
    assert api.get("/notifications/prefs", headers=buyer.headers).json()[
        "channels"]["email"]["enabled"] is False


def test_forged_unsubscribe_token_is_422(api: Any) -> None:
    buyer = make_user(api, "buyer")
    token = unsubscribe_token(buyer.id, "email", "order")
    payload, mac = token.split(".")
    forged = unsubscribe_token(buyer.id, "email", "*").split(".")[0] + "." + mac
    for bad in (forged, payload, "x.y", "%%%"):
        r = api.get(f"/notifications/unsubscribe/{bad}")
        assert r.status_code in (404, 422)
        if r.status_code == 422:
            assert _code(r) == "INVALID_UNSUBSCRIBE_TOKEN"
