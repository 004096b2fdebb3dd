"""Payments over HTTP: the buyer pays through the PSP simulator, whose signed webhook
reaches the real handler (in-process sender); webhook errors; refunds; payouts and
balance; the admin take rate. Every error is a stable code, never a 500."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from marketplace_core.db import transaction
from marketplace_core.orders import service as orders
from marketplace_core.orders.service import OrderRequest
from marketplace_core.payments.webhooks import SIGNATURE_HEADER, InProcessWebhookSender, sign
from tests.core.auth_helpers import TestUser, make_seller_with_shop, make_user
from tests.core.test_orders_support import make_variant, register_device

PRICE = Decimal("1999.99")


@pytest.fixture(scope="module")
def api(core_api: Any) -> Iterator[Any]:
    """The app, with the simulator's webhooks delivered to the handler in-process."""
    core_api.app.state.psp_webhook_sender = InProcessWebhookSender(core_api.app.state.pool)
    yield core_api


@dataclass(frozen=True)
class ApiSale:
    seller: TestUser
    buyer: TestUser
    merchant_id: UUID
    shop_id: UUID
    order_id: UUID


def _sale(api: Any) -> ApiSale:
    seller, merchant_id, shop_id = make_seller_with_shop(api)
    buyer = make_user(api, "buyer")
    from marketplace_core.pos import service as pos

    with transaction(api.app.state.pool) as conn:
        device = register_device(conn, shop_id)
        pos.record_heartbeat(conn, device, now=datetime.now(UTC))
        variant = make_variant(conn, shop_id, price=PRICE, stock=3)
        order = orders.place_order(
            conn, buyer.id, OrderRequest.of(shop_id, [(variant, 1)], "delivery",
                                            delivery_address="Bishkek, Chui 1")).order
    return ApiSale(seller, buyer, merchant_id, shop_id, order.id)


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    code: str = response.json()["error"]["code"]
    return code


def _pay(api: Any, sale: ApiSale) -> dict[str, Any]:
    started = api.post(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers)
    assert started.status_code == 201, started.text
    payment: dict[str, Any] = started.json()
    done = api.post(f"/psp-sim/payments/{payment['psp_payment_id']}/pay")
    assert done.status_code == 200, done.text
    assert done.json()["webhook_status"] == 200, done.text
    return payment


def test_buyer_pays_through_the_simulator(api: Any) -> None:
    sale = _sale(api)
    started = api.post(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert (payment["status"], payment["amount"], payment["currency"]) == (
        "pending", "1999.99", "KGS")
    again = api.post(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers)
    assert again.status_code == 200 and again.json()["id"] == payment["id"]
    other = make_user(api, "buyer")
    assert _error(api.post(f"/orders/{sale.order_id}/payments", headers=other.headers),
                  403) == "FORBIDDEN"
    assert _error(api.post(f"/orders/{sale.order_id}/payments"), 401) == "UNAUTHORIZED"

    page = api.get(f"/psp-sim/payments/{payment['psp_payment_id']}")
    assert page.status_code == 200 and page.json()["fee"] == "40.00"
    paid = api.post(f"/psp-sim/payments/{payment['psp_payment_id']}/pay")
    assert paid.status_code == 200, paid.text
    assert paid.json()["webhook_status"] == 200
    # the PSP retries: the same event again, still 200, nothing changes
    retried = api.post(f"/psp-sim/payments/{payment['psp_payment_id']}/pay")
    assert retried.json()["webhook_event_id"] == paid.json()["webhook_event_id"]
    assert retried.json()["webhook_status"] == 200
    assert json.loads(retried.json()["webhook_response"])["outcome"] == "duplicate"

    listed = api.get(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers).json()
    assert [(p["status"], p["acquiring_fee"], p["take_rate_amount"]) for p in listed] == [
        ("succeeded", "40.00", "0.00")]
    payouts = api.get(f"/merchants/{sale.merchant_id}/payouts", headers=sale.seller.headers)
    assert payouts.status_code == 200, payouts.text
    assert [(p["gross_amount"], p["acquiring_fee"], p["amount"], p["status"])
            for p in payouts.json()] == [("1999.99", "40.00", "1959.99", "sent")]
    balance = api.get(f"/merchants/{sale.merchant_id}/balance", headers=sale.seller.headers)
    assert balance.json()["payable"] == "0.00"
    assert balance.json()["paid_out_total"] == "1959.99"
    assert _error(api.get(f"/merchants/{sale.merchant_id}/payouts",
                          headers=other.headers), 403) == "FORBIDDEN"
    stranger, _, _ = make_seller_with_shop(api)
    assert _error(api.get(f"/merchants/{sale.merchant_id}/balance",
                          headers=stranger.headers), 403) == "FORBIDDEN"


def _post_webhook(api: Any, event: Any, *, signature: str | None = None,
                  raw: bytes | None = None) -> Any:
    body = raw if raw is not None else json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if signature != "":
        headers[SIGNATURE_HEADER] = signature or sign(body)
    return api.post("/webhooks/psp", content=body, headers=headers)


def test_webhook_errors_are_stable_codes(api: Any) -> None:
    sale = _sale(api)
    payment = api.post(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers).json()
    event = {"event_id": f"evt_{secrets.token_hex(8)}", "type": "payment.succeeded",
             "psp_payment_id": payment["psp_payment_id"], "amount": "1999.99"}

    assert _error(_post_webhook(api, event, signature=""), 401) == "INVALID_SIGNATURE"
    assert _error(_post_webhook(api, event, signature="00" * 32), 401) == "INVALID_SIGNATURE"
    assert _error(_post_webhook(api, None, raw=b"\xff\xfe garbage"), 422) == "INVALID_WEBHOOK"
    assert _error(_post_webhook(api, {**event, "amount": 1999.991}), 422) == "INVALID_WEBHOOK"
    assert _error(_post_webhook(api, {**event, "type": "nope"}), 422) == "INVALID_WEBHOOK"
    assert _error(_post_webhook(api, {**event, "psp_payment_id": "sim_pay_missing"}),
                  404) == "PAYMENT_NOT_FOUND"
    mismatch = {**event, "event_id": f"evt_{secrets.token_hex(8)}", "amount": "10.00"}
    assert _error(_post_webhook(api, mismatch), 422) == "AMOUNT_MISMATCH"
    listed = api.get(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers).json()
    assert listed[0]["status"] == "pending"

    first = _post_webhook(api, event)
    assert first.status_code == 200 and first.json()["outcome"] == "processed"
    second = _post_webhook(api, event)
    assert second.status_code == 200 and second.json()["outcome"] == "duplicate"
    # another event for the same payment, its amount a JSON number (read exactly, no
    # float on the way): already succeeded, so nothing to do
    raw_number = json.dumps(event).replace('"1999.99"', "1999.99").replace(
        event["event_id"], event["event_id"] + "n").encode()
    third = _post_webhook(api, None, raw=raw_number)
    assert third.status_code == 200 and third.json()["outcome"] == "ignored"


def test_refunds_over_http(api: Any) -> None:
    sale = _sale(api)
    url = f"/orders/{sale.order_id}/refunds"
    assert _error(api.post(url, headers=sale.seller.headers), 409) == "ORDER_NOT_PAID"
    _pay(api, sale)
    assert _error(api.post(url, headers=sale.buyer.headers), 403) == "FORBIDDEN"
    stranger, _, _ = make_seller_with_shop(api)
    assert _error(api.post(url, headers=stranger.headers), 403) == "FORBIDDEN"
    assert _error(api.post(url, json={"amount": "999.99"}, headers=sale.seller.headers),
                  422) == "PARTIAL_REFUND_NOT_ALLOWED"
    assert _error(api.post(url, json={"amount": 1999.99}, headers=sale.seller.headers),
                  422) == "INVALID_REQUEST"  # a float is never money

    refund = api.post(url, json={"amount": "1999.99"}, headers=sale.seller.headers)
    assert refund.status_code == 201, refund.text
    assert (refund.json()["status"], refund.json()["amount"]) == ("succeeded", "1999.99")
    assert _error(api.post(url, headers=sale.seller.headers), 409) == "ALREADY_REFUNDED"
    listed = api.get(url, headers=sale.buyer.headers).json()
    assert [r["reason"] for r in listed] == ["requested"]
    balance = api.get(f"/merchants/{sale.merchant_id}/balance",
                      headers=sale.seller.headers).json()
    assert balance["payable"] == "-1999.99"  # the payout (1959.99) and the fee (40.00)
    with transaction(api.app.state.pool) as conn:
        assert orders.get_order(conn, sale.order_id).status == "refunded"


def test_take_rate_is_admin_only_validated_and_applied(api: Any) -> None:
    admin = make_user(api, "admin")
    seller = make_user(api, "seller")
    assert _error(api.put("/admin/take-rate", json={"rate": "0.05"}, headers=seller.headers),
                  403) == "FORBIDDEN"
    for bad, code in (("0.7", "INVALID_TAKE_RATE"), ("-0.01", "INVALID_TAKE_RATE"),
                      ("0.12345", "INVALID_TAKE_RATE"), (0.05, "INVALID_REQUEST"),
                      ("five", "INVALID_REQUEST")):
        assert _error(api.put("/admin/take-rate", json={"rate": bad}, headers=admin.headers),
                      422) == code, bad
    try:
        put = api.put("/admin/take-rate", json={"rate": "0.05"}, headers=admin.headers)
        assert put.status_code == 200, put.text
        assert put.json()["rate"] == "0.0500"
        sale = _sale(api)
        _pay(api, sale)
        [payout] = api.get(f"/merchants/{sale.merchant_id}/payouts",
                           headers=sale.seller.headers).json()
        assert (payout["take_rate_amount"], payout["amount"]) == ("100.00", "1859.99")
        audit = api.get("/audit-log", params={"entity_type": "take_rate"},
                        headers=admin.headers)
        if audit.status_code == 200:  # the accounts helper's audit router
            assert any(e["action"] == "take_rate.set" for e in audit.json())
    finally:
        api.put("/admin/take-rate", json={"rate": "0"}, headers=admin.headers)
    assert api.get("/admin/take-rate", headers=admin.headers).json()["rate"] == "0.0000"


def test_simulator_failure_and_unknown_payment(api: Any) -> None:
    sale = _sale(api)
    payment = api.post(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers).json()
    failed = api.post(f"/psp-sim/payments/{payment['psp_payment_id']}/fail")
    assert failed.status_code == 200 and failed.json()["webhook_status"] == 200
    assert _error(api.post(f"/psp-sim/payments/{payment['psp_payment_id']}/pay"),
                  409) == "PSP_ERROR"
    assert _error(api.get("/psp-sim/payments/sim_pay_nope"), 404) == "PAYMENT_NOT_FOUND"
    listed = api.get(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers).json()
    assert [p["status"] for p in listed] == ["failed"]
    retry = api.post(f"/orders/{sale.order_id}/payments", headers=sale.buyer.headers)
    assert retry.status_code == 201 and retry.json()["id"] != payment["id"]


def test_openapi_documents_the_payment_routes(api: Any) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    webhook = paths["/webhooks/psp"]["post"]
    assert "requestBody" in webhook and {"401", "404", "422"} <= set(webhook["responses"])
    for path, method in (("/orders/{order_id}/payments", "post"),
                         ("/orders/{order_id}/refunds", "post"),
                         ("/merchants/{merchant_id}/payouts", "get"),
                         ("/merchants/{merchant_id}/balance", "get"),
                         ("/merchants/{merchant_id}/subscription", "post"),
                         ("/admin/take-rate", "put")):
        operation = paths[path][method]
        assert operation["summary"] and "401" in operation["responses"], path
