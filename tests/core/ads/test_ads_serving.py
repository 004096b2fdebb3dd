"""Ads in pages (issue 12 §2), end to end through the API with real Postgres and Kafka:
labels in Explore, Following and search, the frequency cap across two API instances,
pacing at the daily budget, reports on ads.events (read back and decoded with the
registry's schema), duplicates, inactive campaigns, redirects, Kafka down."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from infra.settings import get_settings
from marketplace_core.ads import tokens
from marketplace_core.ads.reporting import AdEventReporter
from marketplace_core.db import transaction
from tests.core.ads.ads_helpers import pro_seller
from tests.core.ads.serving_helpers import (
    ads_of,
    category,
    end_campaign,
    explore,
    guest,
    live_campaign,
    product,
    report,
    uniq_tag,
)
from tests.core.auth_helpers import make_user
from tests.core.behaviour.conftest import end_offsets, read_topic
from tests.core.social.social_helpers import make_post


@pytest.fixture
def made(serving: Any, admin: Any) -> Iterator[list[str]]:
    """Campaign ids a test creates; ended afterwards so they never compete elsewhere."""
    ids: list[str] = []
    yield ids
    for cid in ids:
        end_campaign(serving, admin, cid)


def _boost(api: Any, admin: Any, made: list[str], tag: str, **over: Any) -> dict[str, Any]:
    """A boost targeting `tag`, and a filler post carrying it (so Explore?tags=tag has an
    organic item before the ad slot, and the boosted post is not on the page itself)."""
    over.setdefault("targeting", {"tags": [tag]})
    c = live_campaign(api, admin, **over)
    made.append(c["id"])
    filler = make_user(api, "buyer")
    make_post(api, filler, tags=[tag])
    return c


def _token(api: Any, tag: str, headers: dict[str, str], campaign: dict[str, Any]) -> str:
    ads = ads_of(explore(api, tag, headers))
    assert ads and ads[0]["id"] == campaign["post_id"], ads
    return str(ads[0]["ad"]["token"])


def test_a_boosted_post_sits_in_explore_with_its_label(serving: Any, admin: Any,
                                                       made: list[str]) -> None:
    tag = uniq_tag()
    c = _boost(serving, admin, made, tag)
    page = explore(serving, tag, guest())
    assert len(page["items"]) == 2
    organic, ad = page["items"]
    assert organic.get("ad") is None and organic["id"] != c["post_id"]
    assert ad["id"] == c["post_id"] and ad["ad"]["label"] == "Реклама"
    assert ad["ad"]["click_url"] == f"/ads/click/{ad['ad']['token']}"
    assert ad["ad"]["own_ad"] is False
    # other tags: the campaign does not target them
    assert not [a for a in ads_of(explore(serving, uniq_tag(), guest()))
                if a["id"] == c["post_id"]]
    # switched off: no ads at all
    get_settings().ads_serving_enabled = False
    try:
        assert ads_of(explore(serving, tag, guest())) == []
    finally:
        get_settings().ads_serving_enabled = True


def test_following_carries_boosts_and_the_seller_sees_its_own_ad(serving: Any, admin: Any,
                                                                 made: list[str]) -> None:
    c = _boost(serving, admin, made, uniq_tag())
    followed_seller, _m, shop = pro_seller(serving)
    make_post(serving, followed_seller, shop_id=str(shop))
    reader = make_user(serving, "buyer")
    r = serving.post("/follow", headers=reader.headers,
                     json={"target_type": "shop", "target_id": str(shop)})
    assert r.status_code == 200, r.text
    page = serving.get("/feed/following", params={"limit": 1}, headers=reader.headers).json()
    ads = ads_of(page)
    assert [a["id"] for a in ads] == [c["post_id"]] and ads[0]["ad"]["label"] == "Реклама"
    # the advertiser itself: shown, marked own_ad (and so never billed)
    seller = c["seller"]
    own = ads_of(explore(serving, c["targeting"]["tags"][0], seller.headers))
    assert own and own[0]["ad"]["own_ad"] is True
    before = _delivery(serving, c["id"])
    out = report(serving, [(own[0]["ad"]["token"], "impression")], seller.headers)
    assert out["accepted"] == 1  # published (own_ad=true for the lake), never counted
    assert _delivery(serving, c["id"])[1] == before[1]


def test_search_shows_sponsored_products_that_match_query_and_categories(
        serving: Any, admin: Any, made: list[str]) -> None:
    word = "zq" + secrets.token_hex(3)
    seller = pro_seller(serving)
    parent = category(serving)
    child = category(serving, parent)
    sneakers = product(serving, seller[2], f"Кроссовки беговые {word}", category_id=child)
    c = live_campaign(serving, admin, seller=seller, type="search",
                      creative={"product_ids": [str(sneakers)]},
                      targeting={"category_ids": [str(parent)]})
    made.append(c["id"])

    def sponsored(**params: Any) -> list[dict[str, Any]]:
        r = serving.get("/search/products", params=params, headers=guest())
        assert r.status_code == 200, r.text
        return [h for h in ads_of(r.json()) if h["product_id"] == str(sneakers)]

    hit = sponsored(q=f"кроссовок {word}")  # a typo'd / inflected word still matches
    assert hit and hit[0]["ad"]["label"] == "Реклама" and hit[0]["price_min"] == "1500.00"
    assert sponsored(q=f"кроссовки {word}", category_id=str(parent))
    assert not sponsored(q=f"телефон {word}")  # another query
    other = category(serving)
    assert not sponsored(q=f"кроссовки {word}", category_id=str(other))  # filter excludes it
    assert not sponsored(q=f"кроссовки {word}", price_max="1000.00")


def test_location_targeting_needs_the_request_to_be_there(serving: Any, admin: Any,
                                                          made: list[str]) -> None:
    tag = uniq_tag()
    c = _boost(serving, admin, made, tag, targeting={"tags": [tag], "markets": ["dordoi"]})

    def shown(**params: Any) -> bool:
        return any(a["id"] == c["post_id"] for a in ads_of(explore(serving, tag, guest(),
                                                                   **params)))

    assert shown(near="42.9370,74.6185")  # at Dordoi
    assert not shown(near="42.8750,74.5690")  # at Osh bazaar
    assert not shown()  # unknown place: location-targeted ads are not shown


def test_the_frequency_cap_holds_across_two_api_instances(serving: Any, admin: Any,
                                                          made: list[str], core_dsn: str,
                                                          monkeypatch: Any) -> None:
    from fastapi.testclient import TestClient

    from marketplace_core.ads.serving import AdServer
    from marketplace_core.api.app import create_app
    from marketplace_core.social.ranking import ExploreIndex

    monkeypatch.setattr(get_settings().policy, "ads_frequency_cap_per_day", 3)
    tag = uniq_tag()
    c = _boost(serving, admin, made, tag)
    session = guest()
    with TestClient(create_app(core_dsn, run_sweeper=False)) as other:
        app: Any = other.app
        app.state.ad_server = AdServer(pool=None, refresh_s=0)
        app.state.explore_index = ExploreIndex(check_every_s=0, cold_every_s=0)
        seen: list[int] = []

        def hit(client: Any) -> None:
            for _ in range(8):
                page = explore(client, tag, session)
                seen.append(sum(1 for a in ads_of(page) if a["id"] == c["post_id"]))

        threads = [threading.Thread(target=hit, args=(client,)) for client in (serving, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(seen) == 16 and sum(seen) == 3
    # another viewer still gets it
    assert ads_of(explore(serving, tag, guest()))


def _delivery(api: Any, campaign_id: str) -> tuple[int, int, int, Decimal]:
    with transaction(api.app.state.pool) as conn:
        row = conn.execute(
            "select coalesce(sum(served), 0), coalesce(sum(impressions), 0),"
            " coalesce(sum(clicks), 0), coalesce(sum(spend), 0) from ad_delivery"
            " where campaign_id = %s", (campaign_id,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), Decimal(row[3])


def test_pacing_stops_a_campaign_at_its_daily_budget(serving: Any, admin: Any,
                                                     made: list[str]) -> None:
    tag = uniq_tag()
    c = _boost(serving, admin, made, tag, pricing="cpc", bid="25.00", daily_budget="50.00",
               total_budget="1000.00")
    first = _token(serving, tag, guest(), c)
    second = _token(serving, tag, guest(), c)
    out = report(serving, [(first, "impression"), (first, "click"), (second, "click")])
    assert out["accepted"] == 3, out
    assert _delivery(serving, c["id"]) == (2, 1, 2, Decimal("50.0000"))
    # 2 clicks x 25 KGS = the daily budget: no longer served today
    assert not [a for a in ads_of(explore(serving, tag, guest())) if a["id"] == c["post_id"]]


def test_reports_are_published_with_every_field_and_replays_are_flagged(
        serving: Any, admin: Any, made: list[str], ad_topic: str) -> None:
    tag = uniq_tag()
    c = _boost(serving, admin, made, tag)
    viewer = make_user(serving, "buyer")
    token = _token(serving, tag, viewer.headers, c)
    since = end_offsets(ad_topic)
    headers = {**viewer.headers, "X-Device-Id": "device-42",
               "User-Agent": "BazaarApp/2.4\t(Android)"}
    out = report(serving, [(token, "impression"), (token, "impression"), (token, "click"),
                           ("garbage", "click"), (token, "hover")], headers)
    assert (out["accepted"], out["flagged"], out["rejected"]) == (2, 1, 2), out
    assert [r["status"] for r in out["results"]] == [
        "accepted", "flagged", "accepted", "rejected", "rejected"]
    assert out["results"][1]["code"] == "duplicate"
    assert out["results"][3]["code"] == "AD_TOKEN_INVALID"
    again = report(serving, [(token, "click")], headers)
    assert again["results"][0]["code"] == "duplicate"

    records = [r.value for r in read_topic(ad_topic, since)
               if r.value["campaign_id"] == c["id"]]
    assert len(records) == 4  # garbage and the unknown type are never published
    first = records[0]
    with transaction(serving.app.state.pool) as conn:
        pseudo = conn.execute("select pseudo_id from user_pseudonyms where user_id = %s",
                              (viewer.id,)).fetchone()
    assert pseudo is not None
    assert first["event_type"] == "impression" and first["intake_flag"] is None
    assert first["campaign_type"] == "boost" and first["placement"] == "explore"
    assert first["pricing"] == "cpm" and first["price"] == Decimal("9000.00")
    assert first["target_type"] == "post" and first["target_id"] == c["post_id"]
    assert first["merchant_id"] == c["merchant_id"] and first["shop_id"] == c["shop_id"]
    assert first["position"] == 1 and first["viewer_pseudo_id"] == pseudo[0]
    assert first["session_id"] is None and first["own_ad"] is False
    assert first["user_agent"] == "BazaarApp/2.4(Android)"
    assert first["device_hash"] and "device-42" not in first["device_hash"]
    assert first["address_hash"] and first["experiment_arm"] is None
    assert first["served_at"] <= first["occurred_at"]
    assert {r["impression_id"] for r in records} == {first["impression_id"]}
    assert [(r["event_type"], r["intake_flag"]) for r in records] == [
        ("impression", None), ("impression", "duplicate"), ("click", None),
        ("click", "duplicate")]
    assert len({r["event_id"] for r in records}) == 4


def test_clicks_redirect_and_flag_inactive_campaigns_and_other_viewers(
        serving: Any, admin: Any, made: list[str]) -> None:
    tag = uniq_tag()
    c = _boost(serving, admin, made, tag)
    viewer = make_user(serving, "buyer")
    token = _token(serving, tag, viewer.headers, c)
    r = serving.get(f"/ads/click/{token}", follow_redirects=False)  # a browser: no auth
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{c['post_id']}"
    other_token = _token(serving, tag, viewer.headers, c)
    stranger = make_user(serving, "buyer")
    out = report(serving, [(other_token, "impression")], stranger.headers)
    assert out["results"][0]["code"] == "viewer_mismatch"

    seller = c["seller"]
    third = _token(serving, tag, guest(), c)
    assert serving.post(f"/ads/campaigns/{c['id']}/pause",
                        headers=seller.headers).status_code == 200
    out = report(serving, [(third, "click")])
    assert out["results"][0]["code"] == "campaign_inactive"
    r = serving.get(f"/ads/click/{third}", follow_redirects=False)
    assert r.status_code == 303  # still taken where the ad leads
    r = serving.get(f"/ads/click/{third}", params={"redirect": "false"})
    assert r.status_code == 200 and r.json()["location"] == f"/posts/{c['post_id']}"
    assert (r.json()["status"], r.json()["code"]) == ("flagged", "duplicate")

    for bad in ("x", "v1.AAAA.BBBB", "v1." + "A" * 5000 + ".sig", token[:-2] + "AA",
                token.replace("v1.", "v1.A", 1), "%00%ff"):
        r = serving.get(f"/ads/click/{bad}", follow_redirects=False)
        assert r.status_code == 422 and r.json()["error"]["code"] == "AD_TOKEN_INVALID", bad


def test_a_sponsored_click_leads_to_the_product(serving: Any, admin: Any,
                                                made: list[str]) -> None:
    word = "zq" + secrets.token_hex(3)
    seller = pro_seller(serving)
    item = product(serving, seller[2], f"Чехол для телефона {word}")
    c = live_campaign(serving, admin, seller=seller, type="search",
                      creative={"product_ids": [str(item)]})
    made.append(c["id"])
    page = serving.get("/search/products", params={"q": word}, headers=guest()).json()
    ad = next(h for h in ads_of(page) if h["product_id"] == str(item))
    r = serving.get(ad["ad"]["click_url"], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/products/{item}"


def test_kafka_down_answers_503_and_records_nothing(serving: Any, admin: Any,
                                                    made: list[str]) -> None:
    tag = uniq_tag()
    c = _boost(serving, admin, made, tag)
    token = _token(serving, tag, guest(), c)
    working = serving.app.state.ad_events
    broken = AdEventReporter(bootstrap="127.0.0.1:1", topic=working.topic,
                             delivery_timeout_s=1.0)
    serving.app.state.ad_events = broken
    try:
        r = serving.post("/ads/events", json={"events": [{"token": token, "type": "click"}]})
        assert r.status_code == 503 and r.json()["error"]["code"] == "ADS_EVENTS_UNAVAILABLE"
        r = serving.get(f"/ads/click/{token}", follow_redirects=False)
        assert r.status_code == 503
    finally:
        serving.app.state.ad_events = working
        broken.close()
    impression_id = tokens.read(token).impression_id
    with transaction(serving.app.state.pool) as conn:
        assert conn.execute("select count(*) from ad_event_dedup where impression_id = %s",
                            (impression_id,)).fetchone() == (0,)
    assert _delivery(serving, c["id"])[2] == 0
    # the retry is not mistaken for a duplicate
    assert report(serving, [(token, "click")])["accepted"] == 1


def test_bad_bodies_are_clear_4xx(serving: Any) -> None:
    assert serving.post("/ads/events", content=b"not json").status_code == 400
    assert serving.post("/ads/events", json={"events": []}).status_code == 422
    assert serving.post("/ads/events", json=[1]).status_code == 422
    many = {"events": [{"token": "x", "type": "click"}] * 101}
    assert serving.post("/ads/events", json=many).status_code == 413
    out = report(serving, [("x" * 5000, "click")])
    assert out["results"][0]["code"] == "AD_TOKEN_INVALID"
    r = serving.post("/ads/events", json={"events": [1, None, {"token": 5, "type": []}]})
    assert r.status_code == 202 and r.json()["rejected"] == 3


def test_downgrading_to_free_pauses_running_campaigns(serving: Any, admin: Any,
                                                      made: list[str]) -> None:
    from marketplace_core.subscriptions import service as subscriptions

    c = live_campaign(serving, admin)
    made.append(c["id"])
    with transaction(serving.app.state.pool) as conn:
        subscriptions.change_plan(conn, UUID(c["merchant_id"]), "FREE")
    got = serving.get(f"/ads/campaigns/{c['id']}", headers=admin.headers).json()
    assert (got["status"], got["pause_reason"], got["held"]) == ("paused", "plan", "0.00")
    r = serving.post(f"/ads/campaigns/{c['id']}/resume", headers=c["seller"].headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "ADS_NOT_IN_PLAN"


def test_the_sweep_forgets_expired_dedup_keys_and_past_caps(serving: Any) -> None:
    from marketplace_core.ads.reporting import sweep

    old, live = secrets.token_hex(4), secrets.token_hex(4)
    with transaction(serving.app.state.pool) as conn:
        conn.execute("insert into ad_event_dedup values (gen_random_uuid(), 'click',"
                     " now() - interval '1 second'), (gen_random_uuid(), 'impression',"
                     " now() + interval '1 day')")
        conn.execute("insert into ad_frequency values (current_date - 3, %s,"
                     " gen_random_uuid(), 4), (current_date + 1, %s, gen_random_uuid(), 1)",
                     (old, live))
        assert sweep(conn) >= 2
        left = conn.execute("select viewer from ad_frequency where viewer in (%s, %s)",
                            (old, live)).fetchall()
        assert left == [(live,)]
        assert conn.execute("select count(*) from ad_event_dedup where expires_at < now()"
                            ).fetchone() == (0,)


def test_banners_carry_their_label_and_lead_to_the_shop(serving: Any, admin: Any,
                                                        made: list[str]) -> None:
    seller = pro_seller(serving)
    with transaction(serving.app.state.pool) as conn:  # a processed upload of the seller
        row = conn.execute(
            "insert into post_media (uploader_id, kind, object_key, width, height, status)"
            " values (%s, 'image', %s, 1200, 400, 'ready') returning id",
            (seller[0].id, f"media/banner-{secrets.token_hex(4)}.jpg")).fetchone()
    assert row is not None
    tag = uniq_tag()
    c = live_campaign(serving, admin, seller=seller, type="banner", targeting={"tags": [tag]},
                      creative={"banner_media_id": str(row[0]), "headline": "Скидки недели"})
    made.append(c["id"])

    def mine(**params: Any) -> list[dict[str, Any]]:
        r = serving.get("/ads/banners", params=params, headers=guest())
        assert r.status_code == 200, r.text
        return [b for b in r.json()["items"] if b["campaign_id"] == c["id"]]

    banner = mine(tags=tag, limit=2)
    assert banner and banner[0]["ad"]["label"] == "Реклама"
    assert (banner[0]["media_id"], banner[0]["headline"], banner[0]["width"]) == (
        str(row[0]), "Скидки недели", 1200)
    assert not mine()  # tag-targeted: not without the tag
    r = serving.get(banner[0]["ad"]["click_url"], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/shops/{c['shop_id']}"
    assert serving.get("/ads/banners", params={"limit": 9}).status_code == 422
