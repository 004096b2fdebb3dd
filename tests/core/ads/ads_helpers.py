"""Shared helpers of the ads tests: a seller on PRO with a shop, a public post, a funded
wallet (through the real PSP simulator and its webhook), campaign bodies."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.ads import wallet
from marketplace_core.db import transaction
from marketplace_core.subscriptions import service as subscriptions
from tests.core.auth_helpers import TestUser, make_seller_with_shop
from tests.core.social.social_helpers import make_post


def code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def today() -> date:
    return wallet.today()


def pro_seller(client: Any, plan: str = "PRO") -> tuple[TestUser, UUID, UUID]:
    """(seller, merchant_id, shop_id) of a new seller whose merchant is on `plan`."""
    seller, merchant_id, shop_id = make_seller_with_shop(client)
    if plan != "FREE":
        with transaction(client.app.state.pool) as conn:
            subscriptions.change_plan(conn, merchant_id, plan)
    return seller, merchant_id, shop_id


def shop_post(client: Any, seller: TestUser, shop_id: UUID) -> str:
    return str(make_post(client, seller, shop_id=str(shop_id))["id"])


def fund(client: Any, seller: TestUser, amount: str, merchant_id: UUID | None = None
         ) -> dict[str, Any]:
    """Top up through the API and pay it on the PSP simulator (webhook in-process)."""
    body: dict[str, Any] = {"amount": amount}
    if merchant_id is not None:
        body["merchant_id"] = str(merchant_id)
    r = client.post("/ads/wallet/topups", headers=seller.headers, json=body)
    assert r.status_code == 201, r.text
    topup: dict[str, Any] = r.json()
    paid = client.post(f"/psp-sim/payments/{topup['psp_payment_id']}/pay")
    assert paid.status_code == 200 and paid.json()["webhook_status"] == 200, paid.text
    return topup


def campaign_body(shop_id: UUID, post_id: str | None = None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shop_id": str(shop_id), "name": f"Весенняя распродажа {secrets.token_hex(3)}",
        "type": "boost", "pricing": "cpc", "bid": "12.50", "daily_budget": "500.00",
        "total_budget": "5000.00", "start_date": str(today()),
        "end_date": str(today() + timedelta(days=30)),
        "targeting": {"markets": ["dordoi", "osh"], "tags": ["#Обувь"]},
        "creative": {"post_id": post_id, "headline": "Новая коллекция"},
    }
    body.update(over)
    return body


def make_campaign(client: Any, seller: TestUser, shop_id: UUID, **over: Any) -> dict[str, Any]:
    post_id = over.pop("post_id", None) or shop_post(client, seller, shop_id)
    r = client.post("/ads/campaigns", headers=seller.headers,
                    json=campaign_body(shop_id, post_id, **over))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def money(value: str | Decimal) -> Decimal:
    return Decimal(value)
