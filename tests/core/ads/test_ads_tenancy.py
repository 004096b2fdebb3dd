"""Seller B never sees or changes seller A's campaigns or wallet: 404, like a missing id."""

from __future__ import annotations

from typing import Any

from tests.core.ads.ads_helpers import code, fund, make_campaign, pro_seller


def test_another_sellers_campaigns_and_wallet_are_404(api: Any, admin: Any) -> None:
    a, a_merchant, a_shop = pro_seller(api)
    b, b_merchant, b_shop = pro_seller(api)
    fund(api, a, "800.00")
    c = make_campaign(api, a, a_shop)
    cid = c["id"]
    assert api.get(f"/ads/campaigns/{cid}", headers=a.headers).status_code == 200
    for method, path, body in (
            ("get", f"/ads/campaigns/{cid}", None),
            ("patch", f"/ads/campaigns/{cid}", {"name": "мой"}),
            ("post", f"/ads/campaigns/{cid}/submit", None),
            ("post", f"/ads/campaigns/{cid}/pause", None),
            ("post", f"/ads/campaigns/{cid}/end", None)):
        r = getattr(api, method)(path, headers=b.headers, **({"json": body} if body else {}))
        assert r.status_code == 404 and code(r) == "AD_CAMPAIGN_NOT_FOUND", (path, r.text)
    assert cid not in {x["id"] for x in api.get("/ads/campaigns", headers=b.headers).json()}
    r = api.get(f"/ads/campaigns?merchant_id={a_merchant}", headers=b.headers)
    assert r.status_code == 404 and code(r) == "MERCHANT_NOT_FOUND"
    # B's wallet is B's; A's merchant id is 404 everywhere
    assert api.get("/ads/wallet", headers=b.headers).json()["balance"] == "0.00"
    for path in (f"/ads/wallet?merchant_id={a_merchant}",
                 f"/ads/wallet/statement?month=2026-01&merchant_id={a_merchant}"):
        r = api.get(path, headers=b.headers)
        assert r.status_code == 404 and code(r) == "MERCHANT_NOT_FOUND"
    r = api.post("/ads/wallet/topups", headers=b.headers,
                 json={"merchant_id": str(a_merchant), "amount": "500.00"})
    assert r.status_code == 404 and code(r) == "MERCHANT_NOT_FOUND"
    # B cannot put a campaign on A's shop
    from tests.core.ads.ads_helpers import campaign_body, shop_post
    r = api.post("/ads/campaigns", headers=b.headers,
                 json=campaign_body(a_shop, shop_post(api, b, b_shop)))
    assert r.status_code == 404 and code(r) == "SHOP_NOT_FOUND"
    # the admin sees both, but must say which wallet
    assert api.get(f"/ads/campaigns/{cid}", headers=admin.headers).status_code == 200
    r = api.get("/ads/wallet", headers=admin.headers)
    assert r.status_code == 422 and code(r) == "AD_MERCHANT_REQUIRED"
    got = api.get(f"/ads/wallet?merchant_id={a_merchant}", headers=admin.headers).json()
    assert got["balance"] == "800.00" and b_merchant != a_merchant
