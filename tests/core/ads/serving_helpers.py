"""Helpers of the ads serving tests: live campaigns (created, funded, approved through the
API), pages with their ads, reports."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from tests.core.ads.ads_helpers import campaign_body, fund, pro_seller
from tests.core.auth_helpers import TestUser
from tests.core.social.social_helpers import make_post


def uniq_tag() -> str:
    return "t" + secrets.token_hex(5)


def guest(session: str | None = None) -> dict[str, str]:
    return {"X-Session-Id": session or "sess-" + secrets.token_hex(8)}


def live_campaign(api: Any, admin: TestUser, *, seller: tuple[TestUser, UUID, UUID] | None
                  = None, funds: str = "20000.00", **over: Any) -> dict[str, Any]:
    """An approved, active campaign (boost of a fresh post unless `creative` is given)."""
    user, _merchant, shop_id = seller or pro_seller(api)
    fund(api, user, funds)
    body = campaign_body(shop_id, None, targeting=None, pricing="cpm", bid="9000.00",
                         daily_budget="5000.00", total_budget="10000.00")
    if "creative" not in over:
        body["creative"] = {"post_id": make_post(api, user, shop_id=str(shop_id))["id"]}
    body.update(over)
    r = api.post("/ads/campaigns", headers=user.headers, json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert api.post(f"/ads/campaigns/{cid}/submit", headers=user.headers).status_code == 200
    r = api.post(f"/ads/campaigns/{cid}/approve", headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    out: dict[str, Any] = r.json()
    out["seller"] = user
    return out


def end_campaign(api: Any, admin: TestUser, campaign_id: str) -> None:
    api.post(f"/ads/campaigns/{campaign_id}/end", headers=admin.headers)


def product(api: Any, shop_id: UUID, name: str, price: str = "1500.00",
            category_id: UUID | None = None) -> UUID:
    with transaction(api.app.state.pool) as conn:
        p = catalog.create_product(conn, shop_id, name, category_id=category_id)
        catalog.create_variant(conn, p.id, "SKU-" + secrets.token_hex(4), Decimal(price))
    return p.id


def category(api: Any, parent_id: UUID | None = None) -> UUID:
    with transaction(api.app.state.pool) as conn:
        return catalog.create_category(conn, "c-" + secrets.token_hex(4), "Категория",
                                       "Категория", parent_id=parent_id).id


def ads_of(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in page["items"] if i.get("ad")]


def explore(api: Any, tag: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = api.get("/feed/explore", params={"tags": tag, "limit": 1, **params}, headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def report(api: Any, events: list[tuple[str, str]], headers: dict[str, str] | None = None,
           status: int = 202) -> dict[str, Any]:
    r = api.post("/ads/events", headers=headers or {},
                 json={"events": [{"token": t, "type": k} for t, k in events]})
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out
