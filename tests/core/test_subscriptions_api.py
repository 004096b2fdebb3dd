"""Subscriptions over HTTP: plans, FREE on first read, trial, auto-renew off, ownership,
malformed input (422, never 500), audit, and the SKU limit enforced on variant creation."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from marketplace_core.errors import DomainError
from tests.core.auth_helpers import make_seller_with_shop, make_user


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_plans_are_listed_with_money_as_strings(core_api: Any) -> None:
    plans = core_api.get("/subscription-plans")
    assert plans.status_code == 200
    assert [(p["code"], p["sku_limit"], p["monthly_price"]) for p in plans.json()] == [
        ("FREE", 50, "0.00"), ("PRO", 5000, "1490.00"), ("ENTERPRISE", None, "4990.00")]


def test_subscription_life_over_http(core_api: Any) -> None:
    seller, merchant_id, _ = make_seller_with_shop(core_api)
    url = f"/merchants/{merchant_id}/subscription"
    free = core_api.get(url, headers=seller.headers)
    assert free.status_code == 200, free.text
    assert (free.json()["plan"], free.json()["sku_limit"], free.json()["sku_count"]) == (
        "FREE", 50, 0)
    assert _error(core_api.patch(url, json={"auto_renew": False}, headers=seller.headers),
                  409)["code"] == "SUBSCRIPTION_NOT_RENEWABLE"

    trial = core_api.post(url, json={"plan": "PRO"}, headers=seller.headers)
    assert trial.status_code == 200, trial.text
    assert (trial.json()["plan"], trial.json()["status"], trial.json()["trial_used"]) == (
        "PRO", "trialing", True)
    assert _error(core_api.post(url, json={"plan": "PRO"}, headers=seller.headers),
                  409)["code"] == "ALREADY_ON_PLAN"

    off = core_api.patch(url, json={"auto_renew": False}, headers=seller.headers)
    assert off.status_code == 200 and off.json()["auto_renew"] is False

    for bad in ({"plan": "GOLD"}, {"plan": 1}, {}, {"plan": "PRO", "extra": True}):
        assert _error(core_api.post(url, json=bad, headers=seller.headers),
                      422)["code"] == "INVALID_REQUEST", bad
    for bad_patch in ({"auto_renew": "no"}, {}, {"auto_renew": None}):
        assert _error(core_api.patch(url, json=bad_patch, headers=seller.headers),
                      422)["code"] == "INVALID_REQUEST", bad_patch
    assert _error(core_api.post(url, content=b"{", headers={
        **seller.headers, "Content-Type": "application/json"}), 422)["code"] == "INVALID_REQUEST"

    other, _, _ = make_seller_with_shop(core_api)
    assert _error(core_api.get(url, headers=other.headers), 403)["code"] == "FORBIDDEN"
    buyer = make_user(core_api, "buyer")
    assert _error(core_api.post(url, json={"plan": "PRO"}, headers=buyer.headers),
                  403)["code"] == "FORBIDDEN"
    admin = make_user(core_api, "admin")
    assert core_api.get(url, headers=admin.headers).json()["plan"] == "PRO"
    missing = f"/merchants/{UUID(int=0)}/subscription"
    assert _error(core_api.get(missing, headers=admin.headers), 404)["code"] == (
        "MERCHANT_NOT_FOUND")

    with transaction(core_api.app.state.pool) as conn:
        actions = [r[0] for r in conn.execute(
            "select action from audit_log where entity_type = 'subscription'"
            " and actor_id = %s order by id", (seller.id,)).fetchall()]
    assert actions == ["subscription.change_plan", "subscription.set_auto_renew"]


def test_sku_limit_is_enforced_when_creating_variants(core_api: Any) -> None:
    seller, merchant_id, shop_id = make_seller_with_shop(core_api)
    with transaction(core_api.app.state.pool) as conn:
        product = catalog.create_product(conn, shop_id, "Футболка")
        for i in range(50):
            catalog.create_variant(conn, product.id, f"TS-{i}", Decimal("100.00"))
        try:
            catalog.create_variant(conn, product.id, "TS-51", Decimal("100.00"))
        except DomainError as exc:
            assert exc.code == "SKU_LIMIT_REACHED"
        else:
            raise AssertionError("the 51st SKU on FREE was accepted")
    over = core_api.post(f"/products/{product.id}/variants",
                         json={"sku": f"TS-{secrets.token_hex(3)}", "price": "100.00"},
                         headers=seller.headers)
    error = _error(over, 409)
    assert error["code"] == "SKU_LIMIT_REACHED"
    assert error["details"] == {"limit": 50, "current": 50, "plan": "FREE"}

    assert core_api.post(f"/merchants/{merchant_id}/subscription", json={"plan": "PRO"},
                         headers=seller.headers).status_code == 200
    ok = core_api.post(f"/products/{product.id}/variants",
                       json={"sku": "TS-51", "price": "100.00"}, headers=seller.headers)
    assert ok.status_code == 201, ok.text
    sub = core_api.get(f"/merchants/{merchant_id}/subscription", headers=seller.headers).json()
    assert (sub["sku_count"], sub["sku_limit"]) == (51, 5000)
