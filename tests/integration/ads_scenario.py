"""Ads billed from the lakehouse: the scenario the spine world carries
(tests/integration/test_lake_spine.py).

A PRO seller tops up its wallet and runs a CPC boost of a post (15.00 KGS a click). Guests
open Explore and get the boosted post with its «Реклама» label and a signed token; their
apps report impressions and clicks through the core API (`POST /ads/events`, `GET
/ads/click/{token}`). Some traffic is not billable: a robot's User-Agent, a replayed click,
the seller on its own ad; a forged token is refused and never published. The spine lands
`ads.events` with everything else and builds the marts; then the billing job (Dagster's
`ad_billing` asset) settles the campaign's day from `ad_event_daily`, a rerun charges
nothing, the seller's campaign report shows the spend and the filtered traffic, the
wallet statement the same charge, and the reconciliation traces it to the events.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from infra.settings import get_settings

APP_UA = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) BazaarApp/2.1"}
BOT_UA = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}
PRICE = Decimal("15.00")
VIEWERS, CLICKERS = 6, 4


@dataclass(frozen=True)
class AdWorld:
    campaign_id: str
    shop_id: str
    seller_headers: dict[str, str]


def _guest() -> dict[str, str]:
    return {**APP_UA, "X-Session-Id": "sess-" + secrets.token_hex(8)}


def _served_ad(client: Any, tag: str, headers: dict[str, str], post_id: str
               ) -> dict[str, Any]:
    """The boosted post as Explore serves it (the snapshot reloads every few seconds)."""
    deadline = time.monotonic() + 30
    while True:
        r = client.get("/feed/explore", params={"tags": tag, "limit": 5}, headers=headers)
        assert r.status_code == 200, r.text
        ads = [i for i in r.json()["items"] if i.get("ad") and i["id"] == post_id]
        if ads:
            return dict(ads[0]["ad"])
        assert time.monotonic() < deadline, "the boosted post never appeared in Explore"
        time.sleep(0.5)


def run_campaign(client: Any) -> AdWorld:
    """The campaign and its traffic, through the core API (in process)."""
    from marketplace_core.payments.webhooks import InProcessWebhookSender
    from tests.core.ads.ads_helpers import campaign_body, fund, pro_seller
    from tests.core.auth_helpers import make_user
    from tests.core.social.social_helpers import make_post

    # the PSP simulator's webhook reaches this in-process core, not the running one
    client.app.state.psp_webhook_sender = InProcessWebhookSender(client.app.state.pool)
    admin = make_user(client, "admin")
    seller, _merchant, shop_id = pro_seller(client)
    fund(client, seller, "5000.00")
    tag = "spine" + secrets.token_hex(4)
    post = make_post(client, seller, shop_id=str(shop_id), tags=[tag])["id"]
    filler = make_user(client, "buyer")
    for _ in range(4):  # organic posts before the ad slots
        make_post(client, filler, tags=[tag])
    body = campaign_body(shop_id, post, pricing="cpc", bid=str(PRICE),
                         daily_budget="3000.00", total_budget="10000.00",
                         targeting={"tags": [tag]})
    r = client.post("/ads/campaigns", headers=seller.headers, json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert client.post(f"/ads/campaigns/{cid}/submit", headers=seller.headers
                       ).status_code == 200
    r = client.post(f"/ads/campaigns/{cid}/approve", headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text

    viewers = [_guest() for _ in range(VIEWERS)]
    ads = [_served_ad(client, tag, h, post) for h in viewers]
    assert {a["label"] for a in ads} == {"Реклама"}
    robot = {**BOT_UA, "X-Session-Id": "bot-" + secrets.token_hex(6)}
    robot_ad = _served_ad(client, tag, robot, post)
    own = {**APP_UA, **seller.headers}
    own_ad = _served_ad(client, tag, own, post)
    assert own_ad["own_ad"] is True

    for headers, ad in [*zip(viewers, ads, strict=True), (robot, robot_ad), (own, own_ad)]:
        r = client.post("/ads/events", headers=headers,
                        json={"events": [{"token": ad["token"], "type": "impression"}]})
        assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    time.sleep(0.7)  # a person's click comes later than 500 ms after the ad was shown
    for headers, ad in [*zip(viewers[:CLICKERS], ads[:CLICKERS], strict=True),
                        (robot, robot_ad), (own, own_ad)]:
        r = client.get(ad["click_url"], headers=headers, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/posts/{post}", r.text
    # a replayed click: published, flagged, never billed
    r = client.get(ads[0]["click_url"], headers=viewers[0], follow_redirects=False)
    assert r.status_code == 303
    # a forged token: refused, never published
    forged = ads[1]["token"][:-4] + ("AAAA" if not ads[1]["token"].endswith("AAAA") else "BBBB")
    r = client.post("/ads/events", headers=viewers[1],
                    json={"events": [{"token": forged, "type": "click"}]})
    assert r.status_code == 202 and r.json()["results"][0]["code"] == "AD_TOKEN_INVALID", r.text
    return AdWorld(campaign_id=cid, shop_id=str(shop_id), seller_headers=seller.headers)


def check_billed(client: Any, serving_url: str, world: AdWorld) -> None:
    """After the marts are built: bill, bill again, and read it back everywhere."""
    import dagster as dg

    from orchestration.defs.ads.assets import ad_billing
    from orchestration.reconcile import reconcile
    from tests.integration.test_lake_spine import patched_env

    internal = {"X-Internal-Token": get_settings().internal_token}
    rows = httpx.get(f"{serving_url}/internal/marts/ad_event_daily", headers=internal,
                     timeout=60).json()["rows"]
    [day] = [r for r in rows if r["campaign_id"] == world.campaign_id]
    # 6 viewers + the robot + the seller; 4 clicks + the robot's + a replay + the seller's
    assert (day["impressions"], day["billable_impressions"]) == (VIEWERS + 2, VIEWERS)
    assert (day["clicks"], day["billable_clicks"]) == (CLICKERS + 3, CLICKERS)
    spend = PRICE * CLICKERS
    assert Decimal(day["spend"]) == spend

    port = serving_url.rsplit(":", 1)[1]
    with patched_env({"SERVING_API_PORT": port}):
        for _ in range(2):  # the second run finds the day settled: nothing charged again
            assert dg.materialize([ad_billing]).success
        assert reconcile() == 0

    r = client.get(f"/ads/wallet/statement?month={day['date'][:7]}",
                   headers=world.seller_headers)
    assert r.status_code == 200, r.text
    charges = [e for e in r.json()["lines"] if e["kind"] == "ad_charge"]
    assert [Decimal(e["amount"]).copy_abs() for e in charges] == [spend], r.json()

    params = {"from": day["date"], "to": day["date"]}
    report = httpx.get(f"{serving_url}/analytics/shops/{world.shop_id}/ads", params=params,
                       headers=world.seller_headers, timeout=60)
    assert report.status_code == 200, report.text
    [row] = report.json()["rows"]
    assert (row["campaign_id"], Decimal(row["spend"]), row["billable_clicks"],
            row["invalid_clicks"]) == (world.campaign_id, spend, CLICKERS, 3)
    traffic = httpx.get(f"{serving_url}/analytics/shops/{world.shop_id}/ad_traffic",
                        params=params, headers=world.seller_headers, timeout=60).json()
    reasons = {(t["event_type"], t["reason"]): t["events"] for t in traffic["rows"]}
    assert reasons == {("impression", "known_bot"): 1, ("click", "known_bot"): 1,
                       ("impression", "own_ad"): 1, ("click", "own_ad"): 1,
                       ("click", "duplicate"): 1}, reasons
