"""HTTP contract of orders and pickup slots (real app, real database)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from infra.settings import get_settings
from marketplace_core.db import transaction
from marketplace_core.orders import service as orders
from marketplace_core.pos import service as pos
from tests.core.auth_helpers import TestUser, make_seller_with_shop, make_user
from tests.core.test_orders_support import make_variant, new_device_id, stock_of


def _pool(client: Any) -> Any:
    return client.app.state.pool


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    code: str = response.json()["error"]["code"]
    return code


def _key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(8)}


def _online_shop(client: Any, *, stock: int = 5, price: str = "1999.99") -> tuple[
        TestUser, UUID, UUID, UUID]:
    """(seller, shop_id, variant_id, slot_id) of a shop whose POS just sent a heartbeat."""
    seller, _, shop_id = make_seller_with_shop(client)
    device = new_device_id()
    with transaction(_pool(client)) as conn:
        pos.register_device(conn, device, shop_id)
        variant = make_variant(conn, shop_id, price=Decimal(price), stock=stock)
    beat = client.post(f"/pos/devices/{device}/heartbeat",
                       headers={"X-Internal-Token": get_settings().internal_token},
                       json={"firmware": "2.4.1"})
    assert beat.status_code == 200, beat.text
    start = datetime.now(UTC) + timedelta(hours=1)
    slot = client.post(f"/shops/{shop_id}/pickup-slots", headers=seller.headers, json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 3})
    assert slot.status_code == 201, slot.text
    return seller, shop_id, variant, UUID(slot.json()["id"])


def _pay(client: Any, order_id: str) -> orders.Order:
    with transaction(_pool(client)) as conn:
        return orders.mark_paid(conn, UUID(order_id), payment_id=uuid4())


def test_pickup_order_life_cycle(core_api):
    seller, shop_id, variant, slot = _online_shop(core_api)
    buyer = make_user(core_api, "buyer")
    slots = core_api.get(f"/shops/{shop_id}/pickup-slots").json()
    assert [(s["id"], s["remaining"]) for s in slots] == [(str(slot), 3)]

    body = {"shop_id": str(shop_id), "fulfilment": "pickup", "pickup_slot_id": str(slot),
            "items": [{"variant_id": str(variant), "qty": 2}]}
    key = _key()
    created = core_api.post("/orders", headers={**buyer.headers, **key}, json=body)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "pending_payment" and order["total"] == "3999.98"
    assert order["items"][0]["unit_price"] == "1999.99"
    assert order["items"][0]["line_total"] == "3999.98"
    replay = core_api.post("/orders", headers={**buyer.headers, **key}, json=body)
    assert replay.status_code == 200 and replay.json()["id"] == order["id"]
    assert _error(core_api.post("/orders", headers={**buyer.headers, **key}, json={
        **body, "items": [{"variant_id": str(variant), "qty": 1}]}), 409) == (
        "IDEMPOTENCY_KEY_REUSED")
    with transaction(_pool(core_api)) as conn:
        assert stock_of(conn, variant) == 3  # taken once

    url = f"/orders/{order['id']}"
    assert core_api.get(url, headers=buyer.headers).json()["id"] == order["id"]
    assert core_api.get(url, headers=seller.headers).status_code == 200
    stranger = make_user(core_api, "buyer")
    assert _error(core_api.get(url, headers=stranger.headers), 404) == "ORDER_NOT_FOUND"
    other_seller, _, _ = make_seller_with_shop(core_api)
    assert _error(core_api.get(url, headers=other_seller.headers), 404) == "ORDER_NOT_FOUND"
    assert [o["id"] for o in core_api.get("/me/orders", headers=buyer.headers).json()] == [
        order["id"]]
    shop_list = core_api.get(f"/shops/{shop_id}/orders?status=pending_payment",
                             headers=seller.headers)
    assert [o["id"] for o in shop_list.json()] == [order["id"]]

    assert _error(core_api.post(f"{url}/pickup", headers=seller.headers), 409) == (
        "INVALID_ORDER_STATE")  # not paid yet
    _pay(core_api, order["id"])
    assert _error(core_api.post(f"{url}/cancel", headers=buyer.headers), 409) == (
        "INVALID_ORDER_STATE")
    assert _error(core_api.post(f"{url}/pickup", headers=buyer.headers), 403) == "FORBIDDEN"
    done = core_api.post(f"{url}/pickup", headers=seller.headers)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert done.json()["completed_at"] is not None


def test_cancel_releases_stock(core_api):
    _, shop_id, variant, slot = _online_shop(core_api, stock=2)
    buyer = make_user(core_api, "buyer")
    created = core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        "shop_id": str(shop_id), "fulfilment": "pickup", "pickup_slot_id": str(slot),
        "items": [{"variant_id": str(variant), "qty": 2}]})
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    sold_out = core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        "shop_id": str(shop_id), "fulfilment": "pickup", "pickup_slot_id": str(slot),
        "items": [{"variant_id": str(variant), "qty": 1}]})
    assert _error(sold_out, 409) == "OUT_OF_STOCK"
    assert sold_out.json()["error"]["details"] == [
        {"variant_id": str(variant), "requested": 1, "available": 0}]
    other = make_user(core_api, "buyer")
    assert _error(core_api.post(f"/orders/{order_id}/cancel", headers=other.headers), 404) == (
        "ORDER_NOT_FOUND")
    cancelled = core_api.post(f"/orders/{order_id}/cancel", headers=buyer.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    with transaction(_pool(core_api)) as conn:
        assert stock_of(conn, variant) == 2
    assert _error(core_api.post(f"/orders/{order_id}/cancel", headers=buyer.headers), 409) == (
        "INVALID_ORDER_STATE")


def test_delivery_code_over_http(core_api):
    seller, shop_id, variant, _ = _online_shop(core_api)
    buyer = make_user(core_api, "buyer")
    created = core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        "shop_id": str(shop_id), "fulfilment": "delivery",
        "delivery_address": "Бишкек, ул. Токтогула 100, кв. 5",
        "items": [{"variant_id": str(variant), "qty": 1}]})
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    url = f"/orders/{order_id}"
    assert _error(core_api.post(f"{url}/delivery-code", headers=buyer.headers), 409) == (
        "INVALID_ORDER_STATE")  # only once paid
    _pay(core_api, order_id)
    issued = core_api.post(f"{url}/delivery-code", headers=buyer.headers)
    assert issued.status_code == 200, issued.text
    code = issued.json()["delivery_code"]
    assert _error(core_api.post(f"{url}/delivery-code", headers=seller.headers), 403) == (
        "FORBIDDEN")
    code = core_api.post(f"{url}/delivery-code", headers=buyer.headers).json()["delivery_code"]

    confirm = f"{url}/confirm-delivery"
    assert _error(core_api.post(confirm, headers=seller.headers, json={"code": "12ab"}),
                  422) == "INVALID_REQUEST"  # malformed: not an attempt
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    left = []
    for _ in range(5):
        rejected = core_api.post(confirm, headers=seller.headers, json={"code": wrong})
        assert _error(rejected, 422) == "INVALID_DELIVERY_CODE"
        left.append(rejected.json()["error"]["details"]["attempts_left"])
    assert left == [4, 3, 2, 1, 0]  # each wrong attempt was committed
    assert _error(core_api.post(confirm, headers=seller.headers, json={"code": code}),
                  409) == "DELIVERY_CODE_LOCKED"
    assert core_api.get(url, headers=buyer.headers).json()["delivery_code_locked"] is True

    code = core_api.post(f"{url}/delivery-code", headers=buyer.headers).json()["delivery_code"]
    assert _error(core_api.post(confirm, headers=buyer.headers, json={"code": code}), 403) == (
        "FORBIDDEN")
    delivered = core_api.post(confirm, headers=seller.headers, json={"code": code})
    assert delivered.status_code == 200 and delivered.json()["status"] == "completed"


def test_order_refusals_and_malformed_input(core_api):
    seller, shop_id, variant, slot = _online_shop(core_api)
    buyer = make_user(core_api, "buyer")
    headers = {**buyer.headers, **_key()}
    good = {"shop_id": str(shop_id), "fulfilment": "pickup", "pickup_slot_id": str(slot),
            "items": [{"variant_id": str(variant), "qty": 1}]}

    assert _error(core_api.post("/orders", json=good, headers=_key()), 401) == "UNAUTHORIZED"
    assert _error(core_api.post("/orders", json=good, headers={**seller.headers, **_key()}),
                  403) == "FORBIDDEN"
    assert _error(core_api.post("/orders", json=good, headers=buyer.headers), 422) == (
        "INVALID_REQUEST")  # no Idempotency-Key
    malformed: list[Any] = [
        {**good, "items": []},
        {**good, "items": [{"variant_id": str(variant), "qty": 0}]},
        {**good, "items": [{"variant_id": str(variant), "qty": 1.5}]},
        {**good, "items": [{"variant_id": str(variant), "qty": "1"}]},
        {**good, "items": [{"variant_id": "nope", "qty": 1}]},
        {**good, "items": [{"variant_id": str(variant), "qty": 1, "price": "1.00"}]},
        {**good, "total": "1.00"},
        {**good, "fulfilment": "teleport"},
        {**good, "pickup_slot_id": None},
        {**good, "delivery_address": "Бишкек"},
        {**good, "fulfilment": "delivery", "pickup_slot_id": None},
        {**good, "fulfilment": "delivery", "pickup_slot_id": None, "delivery_address": " "},
        {**good, "shop_id": 42},
        [good],
        "order please",
    ]
    for body in malformed:
        assert _error(core_api.post("/orders", json=body, headers=headers), 422) == (
            "INVALID_REQUEST"), body
    assert _error(core_api.post("/orders", content=b"{", headers={
        **headers, "Content-Type": "application/json"}), 422) == "INVALID_REQUEST"

    assert _error(core_api.post("/orders", headers=headers, json={
        **good, "items": [{"variant_id": str(uuid4()), "qty": 1}]}), 404) == "VARIANT_NOT_FOUND"
    assert _error(core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        **good, "pickup_slot_id": str(uuid4())}), 404) == "SLOT_NOT_FOUND"
    assert _error(core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        **good, "shop_id": str(uuid4())}), 404) == "SHOP_NOT_FOUND"
    other_variant = _online_shop(core_api)[2]
    assert _error(core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        **good, "items": [{"variant_id": str(other_variant), "qty": 1}]}), 422) == (
        "VARIANT_NOT_IN_SHOP")

    # a shop without a live POS cannot sell online
    _, quiet_shop = make_seller_with_shop(core_api)[1:]
    with transaction(_pool(core_api)) as conn:
        quiet_variant = make_variant(conn, quiet_shop)
    refused = core_api.post("/orders", headers={**buyer.headers, **_key()}, json={
        "shop_id": str(quiet_shop), "fulfilment": "delivery", "delivery_address": "Бишкек",
        "items": [{"variant_id": str(quiet_variant), "qty": 1}]})
    assert _error(refused, 409) == "BUY_NOT_ELIGIBLE"
    assert refused.json()["error"]["details"]["reasons"] == ["POS_INACTIVE"]

    for path in ["/orders/123", "/orders/123/cancel", "/orders/123/pickup"]:
        method = core_api.get if path == "/orders/123" else core_api.post
        assert _error(method(path, headers=buyer.headers), 422) == "INVALID_REQUEST"
    assert _error(core_api.get(f"/orders/{uuid4()}", headers=buyer.headers), 404) == (
        "ORDER_NOT_FOUND")
    assert _error(core_api.get("/me/orders?status=lost", headers=buyer.headers), 422) == (
        "INVALID_REQUEST")


def test_pickup_slot_rules_over_http(core_api):
    seller, shop_id, variant, _ = _online_shop(core_api)
    other_seller, _, _ = make_seller_with_shop(core_api)
    url = f"/shops/{shop_id}/pickup-slots"
    start = datetime.now(UTC) + timedelta(days=1)
    good = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "capacity": 1}
    assert _error(core_api.post(url, json=good, headers=other_seller.headers), 403) == (
        "FORBIDDEN")
    for bad in [{**good, "capacity": 0}, {**good, "capacity": 1.0},
                {**good, "starts_at": "2030-01-01T10:00:00"}, {**good, "ends_at": None}]:
        assert _error(core_api.post(url, json=bad, headers=seller.headers), 422) == (
            "INVALID_REQUEST"), bad
    assert _error(core_api.post(url, headers=seller.headers, json={
        **good, "ends_at": good["starts_at"]}), 422) == "INVALID_SLOT"
    created = core_api.post(url, json=good, headers=seller.headers)
    assert created.status_code == 201, created.text
    one_place = created.json()["id"]
    assert _error(core_api.get(f"/shops/{uuid4()}/pickup-slots"), 404) == "SHOP_NOT_FOUND"

    body = {"shop_id": str(shop_id), "fulfilment": "pickup", "pickup_slot_id": one_place,
            "items": [{"variant_id": str(variant), "qty": 1}]}
    first = make_user(core_api, "buyer")
    assert core_api.post("/orders", headers={**first.headers, **_key()},
                         json=body).status_code == 201
    second = make_user(core_api, "buyer")
    assert _error(core_api.post("/orders", headers={**second.headers, **_key()}, json=body),
                  409) == "SLOT_FULL"


def test_openapi_documents_the_routes(core_api):
    spec = core_api.get("/openapi.json").json()
    mine = ["/orders", "/orders/{order_id}", "/me/orders", "/orders/{order_id}/cancel",
            "/orders/{order_id}/pickup", "/orders/{order_id}/confirm-delivery",
            "/orders/{order_id}/delivery-code", "/shops/{shop_id}/pickup-slots",
            "/shops/{shop_id}/orders", "/merchants/{merchant_id}/eligibility",
            "/shops/{shop_id}/eligibility", "/merchants/{merchant_id}/payout/onboard",
            "/merchants/{merchant_id}/payout/suspend", "/merchants/{merchant_id}/payout",
            "/shops/{shop_id}/availability-requests",
            "/pos/devices/{device_id}/heartbeat"]
    for path in mine:
        for method, operation in spec["paths"][path].items():
            assert operation.get("summary"), (method, path)
            assert "422" in operation["responses"], (method, path)
    order_schema = spec["components"]["schemas"]["OrderResponse"]["properties"]["total"]
    assert order_schema["type"] == "string"
