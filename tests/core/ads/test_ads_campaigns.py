"""Campaigns through the API: the status machine with holds, moderation, plan gating,
events on ads.campaigns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.core.ads.ads_helpers import code, fund, make_campaign, pro_seller
from tests.core.auth_helpers import make_user
from tests.core.social.social_helpers import events


def _wallet(api: Any, seller: Any) -> dict[str, Any]:
    r = api.get("/ads/wallet", headers=seller.headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _do(api: Any, user: Any, cid: str, action: str, status: int = 200,
        **body: Any) -> dict[str, Any]:
    r = api.post(f"/ads/campaigns/{cid}/{action}", headers=user.headers,
                 json=body or None)
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def test_the_status_machine_moves_money_between_free_and_held(api: Any, admin: Any) -> None:
    seller, merchant_id, shop_id = pro_seller(api)
    fund(api, seller, "1200.00")
    assert _wallet(api, seller)["available"] == "1200.00"
    c = make_campaign(api, seller, shop_id)
    assert c["status"] == "draft" and c["merchant_id"] == str(merchant_id)
    assert c["targeting"]["markets"] == ["dordoi", "osh"] and c["targeting"]["tags"] == ["обувь"]
    cid = c["id"]

    assert code(api.post(f"/ads/campaigns/{cid}/pause", headers=seller.headers)) \
        == "AD_INVALID_TRANSITION"
    assert _do(api, seller, cid, "submit")["status"] == "in_review"
    assert code(api.post(f"/ads/campaigns/{cid}/approve", headers=seller.headers)) == "FORBIDDEN"
    patched = api.patch(f"/ads/campaigns/{cid}", headers=seller.headers, json={"name": "x"})
    assert patched.status_code == 409 and code(patched) == "AD_CAMPAIGN_NOT_EDITABLE"
    queue = api.get("/ads/campaigns?status=in_review&limit=100", headers=admin.headers).json()
    assert cid in {q["id"] for q in queue}

    active = _do(api, admin, cid, "approve")
    assert active["status"] == "active" and active["held"] == "500.00"
    assert active["moderation_status"] == "approved"
    w = _wallet(api, seller)
    assert (w["available"], w["held"], w["balance"]) == ("700.00", "500.00", "1200.00")

    paused = _do(api, seller, cid, "pause")
    assert paused["status"] == "paused" and paused["held"] == "0.00"
    assert _wallet(api, seller)["available"] == "1200.00"
    assert _do(api, seller, cid, "resume")["held"] == "500.00"

    # a bigger daily budget holds more; beyond the wallet it is refused, nothing moves
    r = api.patch(f"/ads/campaigns/{cid}", headers=seller.headers,
                  json={"daily_budget": "1300.00"})
    assert r.status_code == 409 and code(r) == "AD_INSUFFICIENT_FUNDS"
    r = api.patch(f"/ads/campaigns/{cid}", headers=seller.headers,
                  json={"daily_budget": "800.00"})
    assert r.status_code == 200 and r.json()["held"] == "800.00"
    r = api.patch(f"/ads/campaigns/{cid}", headers=seller.headers,
                  json={"targeting": {"markets": ["tsum"]}})
    assert r.status_code == 409 and code(r) == "AD_CAMPAIGN_NOT_EDITABLE"

    ended = _do(api, seller, cid, "end")
    assert ended["status"] == "ended" and ended["held"] == "0.00" and ended["ended_at"]
    assert _wallet(api, seller)["available"] == "1200.00"
    assert code(api.post(f"/ads/campaigns/{cid}/resume", headers=seller.headers)) \
        == "AD_INVALID_TRANSITION"

    types = [e["event_type"] for e in events(api, "ads.campaigns", cid)]
    assert types == ["ad_campaign.created", "ad_campaign.submit", "ad_campaign.approve",
                     "ad_campaign.pause", "ad_campaign.resume", "ad_campaign.updated",
                     "ad_campaign.end"]
    last = events(api, "ads.campaigns", cid)[-1]
    assert last["status"] == "ended" and last["previous_status"] == "active"
    assert last["daily_budget"] == Decimal("800.00") and last["markets"] == ["dordoi", "osh"]


def test_reject_sends_back_to_draft_and_flagged_words_reach_the_admin(api: Any,
                                                                      admin: Any) -> None:
    seller, _, shop_id = pro_seller(api)
    fund(api, seller, "600.00")
    c = make_campaign(api, seller, shop_id, name="Скидки, казино рядом")
    r = api.post(f"/ads/campaigns/{c['id']}/submit", headers=seller.headers)
    assert r.status_code == 200 and r.json()["moderation_flags"] == ["казино"], r.text
    r = api.post(f"/ads/campaigns/{c['id']}/reject", headers=admin.headers, json={})
    assert r.status_code == 422
    back = _do(api, admin, c["id"], "reject", note="Уберите слово «казино»")
    assert back["status"] == "draft" and back["moderation_status"] == "rejected"
    assert back["moderation_note"] == "Уберите слово «казино»" and back["held"] == "0.00"


def test_approval_without_money_pauses_and_submit_needs_a_days_budget(api: Any,
                                                                      admin: Any) -> None:
    seller, _, shop_id = pro_seller(api)
    c = make_campaign(api, seller, shop_id)
    r = api.post(f"/ads/campaigns/{c['id']}/submit", headers=seller.headers)
    assert r.status_code == 409 and code(r) == "AD_INSUFFICIENT_FUNDS"
    fund(api, seller, "500.00")
    _do(api, seller, c["id"], "submit")
    # the money goes to another campaign before the admin gets to this one
    other = make_campaign(api, seller, shop_id, daily_budget="400.00")
    _do(api, seller, other["id"], "submit")
    assert _do(api, admin, other["id"], "approve")["held"] == "400.00"
    late = _do(api, admin, c["id"], "approve")
    assert late["status"] == "paused" and late["pause_reason"] == "insufficient_funds"
    r = api.post(f"/ads/campaigns/{c['id']}/resume", headers=seller.headers)
    assert r.status_code == 409 and code(r) == "AD_INSUFFICIENT_FUNDS"
    _do(api, seller, other["id"], "pause")
    assert _do(api, seller, c["id"], "resume")["held"] == "500.00"


def test_only_plans_with_ads_run_campaigns(api: Any) -> None:
    seller, merchant_id, shop_id = pro_seller(api, plan="FREE")
    r = api.post("/ads/wallet/topups", headers=seller.headers, json={"amount": "500.00"})
    assert r.status_code == 403 and code(r) == "ADS_NOT_IN_PLAN"
    from tests.core.ads.ads_helpers import campaign_body, shop_post
    body = campaign_body(shop_id, shop_post(api, seller, shop_id))
    r = api.post("/ads/campaigns", headers=seller.headers, json=body)
    assert r.status_code == 403 and code(r) == "ADS_NOT_IN_PLAN"

    ent, _, ent_shop = pro_seller(api, plan="ENTERPRISE")
    fund(api, ent, "500.00")
    c = make_campaign(api, ent, ent_shop)
    # a downgrade to FREE stops new submissions
    from marketplace_core.db import transaction
    from marketplace_core.subscriptions import service as subscriptions
    with transaction(api.app.state.pool) as conn:
        subscriptions.change_plan(conn, c["merchant_id"], "FREE")
    r = api.post(f"/ads/campaigns/{c['id']}/submit", headers=ent.headers)
    assert r.status_code == 403 and code(r) == "ADS_NOT_IN_PLAN"
    assert merchant_id != c["merchant_id"]


def test_buyers_and_analysts_have_no_ads(api: Any) -> None:
    for role in ("buyer", "analyst"):
        user = make_user(api, role)
        assert api.get("/ads/campaigns", headers=user.headers).status_code == 403
        assert api.get("/ads/wallet", headers=user.headers).status_code == 403
    assert api.get("/ads/campaigns").status_code == 401
    assert len(api.get("/ads/markets").json()) == 11
