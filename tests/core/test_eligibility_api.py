"""HTTP contract of eligibility, POS heartbeats, payout onboarding and availability
requests (real app, real database; each test makes its own users and shops)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from infra.settings import get_settings
from marketplace_core.db import transaction
from marketplace_core.pos import service as pos
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.test_orders_support import make_variant, new_device_id


def _pool(client: Any) -> Any:
    return client.app.state.pool


def _token() -> dict[str, str]:
    return {"X-Internal-Token": get_settings().internal_token}


def _device(client: Any, shop_id: UUID) -> str:
    device_id = new_device_id()
    with transaction(_pool(client)) as conn:
        pos.register_device(conn, device_id, shop_id)
    return device_id


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    code: str = response.json()["error"]["code"]
    return code


def test_heartbeat_turns_the_shop_online(core_api):
    _, merchant_id, shop_id = make_seller_with_shop(core_api)
    before = core_api.get(f"/merchants/{merchant_id}/eligibility")
    assert before.status_code == 200
    (shop,) = before.json()["shops"]
    assert shop["mode"] == "manual_contact" and shop["reasons"] == ["POS_INACTIVE"]
    assert [a["type"] for a in shop["actions"]] == ["contact", "request_availability"]

    device = _device(core_api, shop_id)
    url = f"/pos/devices/{device}/heartbeat"
    assert _error(core_api.post(url, json={"firmware": "2.4.1"}), 401) == "INVALID_DEVICE_TOKEN"
    assert _error(core_api.post(url, json={"firmware": "2.4.1"},
                                headers={"X-Internal-Token": "nope"}), 401) == (
        "INVALID_DEVICE_TOKEN")
    beat = core_api.post(url, headers=_token(), json={
        "firmware": "2.4.1", "sent_at": "2030-01-01T00:00:00+06:00"})
    assert beat.status_code == 200, beat.text
    body = beat.json()
    assert body["device_id"] == device and body["shop_id"] == str(shop_id)
    assert body["eligibility"]["mode"] == "online_purchase"
    assert body["eligibility"]["can_buy_online"] is True
    assert body["clock_skew_seconds"] > 0

    after = core_api.get(f"/shops/{shop_id}/eligibility").json()
    assert after["mode"] == "online_purchase" and after["last_heartbeat_at"] is not None
    assert [a["type"] for a in after["actions"]] == ["buy", "contact"]


def test_heartbeat_and_eligibility_errors(core_api):
    token = _token()
    assert _error(core_api.post("/pos/devices/POS-99999999999/heartbeat", headers=token,
                                json={"firmware": "1"}), 404) == "DEVICE_NOT_FOUND"
    for path, body in [("/pos/devices/not-a-device/heartbeat", {"firmware": "1"}),
                       ("/pos/devices/POS-0001/heartbeat", {}),
                       ("/pos/devices/POS-0001/heartbeat", {"firmware": ""}),
                       ("/pos/devices/POS-0001/heartbeat", {"firmware": "1", "x": 1}),
                       ("/pos/devices/POS-0001/heartbeat",
                        {"firmware": "1", "sent_at": "yesterday"})]:
        assert _error(core_api.post(path, headers=token, json=body), 422) == "INVALID_REQUEST"
    assert _error(core_api.post("/pos/devices/POS-0001/heartbeat", headers=token,
                                content=b"{not json"), 422) == "INVALID_REQUEST"
    assert _error(core_api.get(f"/merchants/{uuid4()}/eligibility"), 404) == (
        "MERCHANT_NOT_FOUND")
    assert _error(core_api.get(f"/shops/{uuid4()}/eligibility"), 404) == "SHOP_NOT_FOUND"
    assert _error(core_api.get("/merchants/123/eligibility"), 422) == "INVALID_REQUEST"


def test_payout_onboarding_and_suspension(core_api):
    seller, merchant_id, shop_id = make_seller_with_shop(core_api)
    other_seller, _, _ = make_seller_with_shop(core_api)
    buyer = make_user(core_api, "buyer")
    admin = make_user(core_api, "admin")
    device = _device(core_api, shop_id)
    core_api.post(f"/pos/devices/{device}/heartbeat", headers=_token(), json={"firmware": "1"})
    url = f"/merchants/{merchant_id}/payout/onboard"
    good = {"provider": "bank", "account_number": "1240 0200 0123 4567", "bank_name": "KICB"}

    assert _error(core_api.post(url, json=good), 401) == "UNAUTHORIZED"
    assert _error(core_api.post(url, json=good, headers=buyer.headers), 403) == "FORBIDDEN"
    assert _error(core_api.post(url, json=good, headers=other_seller.headers), 403) == (
        "FORBIDDEN")
    assert _error(core_api.post(url, headers=seller.headers, json={
        **good, "provider": "paypal"}), 422) == "INVALID_REQUEST"
    assert _error(core_api.post(url, headers=seller.headers, json={
        **good, "account_number": "12"}), 422) == "INVALID_PAYOUT_ACCOUNT"
    assert _error(core_api.post(url, headers=seller.headers, json={
        "provider": "bank", "account_number": "1240020001234567"}), 422) == (
        "INVALID_PAYOUT_ACCOUNT")

    onboarded = core_api.post(url, headers=seller.headers, json=good)
    assert onboarded.status_code == 200, onboarded.text
    body = onboarded.json()
    assert body["account"]["account_number_masked"] == "************4567"
    assert "1240020001234567" not in onboarded.text
    assert [s["mode"] for s in body["shops"]] == ["online_purchase"]
    shown = core_api.get(f"/merchants/{merchant_id}/payout", headers=seller.headers).json()
    assert shown["status"] == "active" and shown["provider"] == "bank"

    suspend = f"/merchants/{merchant_id}/payout/suspend"
    assert _error(core_api.post(suspend, headers=seller.headers, json={}), 403) == "FORBIDDEN"
    suspended = core_api.post(suspend, headers=admin.headers, json={"reason": "chargebacks"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["shops"][0]["reasons"] == ["PAYOUT_INACTIVE"]
    assert suspended.json()["account"]["status"] == "suspended"
    assert _error(core_api.post(url, headers=seller.headers, json=good), 409) == (
        "PAYOUT_SUSPENDED")
    again = core_api.post(url, headers=admin.headers, json={
        "provider": "elsom", "account_number": "+996700123456"})
    assert again.status_code == 200 and again.json()["shops"][0]["mode"] == "online_purchase"

    with transaction(_pool(core_api)) as conn:
        actions = [r[0] for r in conn.execute(
            "select action from audit_log where entity_type = 'merchant' and entity_id = %s"
            " and action like 'payout.%%' order by id", (str(merchant_id),)).fetchall()]
    assert actions == ["payout.onboard", "payout.suspend", "payout.onboard"]


def test_availability_requests(core_api):
    seller, _, shop_id = make_seller_with_shop(core_api)
    buyer = make_user(core_api, "buyer")
    with transaction(_pool(core_api)) as conn:
        variant = make_variant(conn, shop_id, stock=0)
    url = f"/shops/{shop_id}/availability-requests"
    assert _error(core_api.post(url, json={}), 401) == "UNAUTHORIZED"
    asked = core_api.post(url, headers=buyer.headers, json={"variant_id": str(variant)})
    assert asked.status_code == 201, asked.text
    assert asked.json()["message"].startswith("Здравствуйте! Есть ли в наличии")
    written = core_api.post(url, headers=buyer.headers, json={"message": "Есть размер 42?"})
    assert written.status_code == 201 and written.json()["message"] == "Есть размер 42?"
    assert _error(core_api.post(url, headers=buyer.headers, json={"variant_id": str(uuid4())}),
                  404) == "VARIANT_NOT_FOUND"
    assert _error(core_api.post(f"/shops/{uuid4()}/availability-requests",
                                headers=buyer.headers, json={}), 404) == "SHOP_NOT_FOUND"
    assert _error(core_api.post(url, headers=buyer.headers, json={"message": "x" * 2001}),
                  422) == "INVALID_REQUEST"
    listed = core_api.get(url, headers=seller.headers)
    assert listed.status_code == 200
    assert listed.json()[0]["message"] == "Есть размер 42?"
    assert _error(core_api.get(url, headers=buyer.headers), 403) == "FORBIDDEN"
