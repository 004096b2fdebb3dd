"""Every declared report (issue 10 §2) read through the real serving API from hand-written
marts: columns, rows and totals worked out by hand, surface filters, sorting, pages, as-of,
REPORT_NOT_READY when a mart is missing, and bad input answered with a stable 4xx code.
Tenancy for every report: tests/serving_api/test_tenancy.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from infra.settings import get_settings
from serving_api.reports.catalog import DEVICE_REASONS, ITEM_REASONS, REPORTS
from serving_api.reports.overview import METRICS
from tests.serving_api.conftest import World, create_shop_metric_daily, day_row
from tests.serving_api.report_marts import create_mart

pytestmark = pytest.mark.integration

RANGE = {"from": "2024-05-01", "to": "2024-05-03"}
P1, P2, P3, P9 = "p-1", "p-2", "p-3", "p-9"
MARK_SALES, MARK_SEEN = "2024-05-04 10:00:00", "2024-05-04 09:00:00"


def engagement(shop: Any, date: str, surface: str, **counts: int) -> dict[str, Any]:
    return {"shop_id": str(shop), "date": date, "surface": surface,
            "_ingested_through": MARK_SEEN, **counts}


@pytest.fixture(scope="module")
def w(world: World) -> Iterator[World]:
    a, b = str(world.shop_a), str(world.shop_b)
    online = day_row(world.shop_a, "2024-05-02", "50.50") | {
        "online_orders": 1, "online_gross": "30.00", "online_net": "30.00", "net": "80.50",
        "online_units": 1}
    create_shop_metric_daily([
        r | {"_ingested_through": MARK_SALES} for r in (
            day_row(world.shop_a, "2024-04-25", "40.00"),
            day_row(world.shop_a, "2024-04-30", "60.00"),
            day_row(world.shop_a, "2024-05-01", "100.00"), online,
            day_row(world.shop_b, "2024-05-01", "999.99"))])
    create_mart("shop_engagement_daily", [
        engagement(a, "2024-05-01", "map", views=10, shop_views=8, visitors=4, clicks=3,
                   add_to_cart=1, route_builds=2, chats=1, call_clicks=1),
        engagement(a, "2024-05-01", "feed", views=20, shop_views=5, visitors=6, clicks=4,
                   add_to_cart=2),
        engagement(a, "2024-05-02", "search", views=5, shop_views=5, visitors=2, clicks=1,
                   route_builds=1, call_clicks=1),
        engagement(a, "2024-04-29", "map", views=4, shop_views=4, visitors=2, route_builds=1),
        engagement(b, "2024-05-01", "map", views=100, shop_views=100, visitors=50,
                   clicks=50, route_builds=9),
    ])
    create_mart("shop_follows_daily", [
        {"shop_id": a, "date": "2024-05-01", "follows": 3, "unfollows": 1, "net_follows": 2},
        {"shop_id": a, "date": "2024-04-30", "follows": 1, "net_follows": 1},
        {"shop_id": b, "date": "2024-05-01", "follows": 40, "net_follows": 40},
    ])
    create_mart("product_engagement_daily", [
        {"product_id": P1, "shop_id": a, "date": "2024-05-01", "surface": "map", "views": 5,
         "visitors": 3, "clicks": 2, "add_to_cart": 1},
        {"product_id": P1, "shop_id": a, "date": "2024-05-02", "surface": "feed", "views": 7,
         "visitors": 4, "clicks": 1, "add_to_cart": 1},
        {"product_id": P2, "shop_id": a, "date": "2024-05-01", "surface": "search",
         "views": 2, "visitors": 1},
        {"product_id": P1, "shop_id": a, "date": "2024-04-20", "surface": "map", "views": 99},
        {"product_id": P9, "shop_id": b, "date": "2024-05-01", "surface": "map", "views": 70},
    ])
    create_mart("product_metric_daily", [
        {"shop_id": a, "product_id": P1, "variant_id": "v-1", "date": "2024-05-01",
         "pos_units": 2, "units": 2, "pos_gross": "100.00", "pos_net": "100.00",
         "net": "100.00"},
        {"shop_id": a, "product_id": P1, "variant_id": "v-2", "date": "2024-05-02",
         "online_units": 1, "units": 1, "online_gross": "30.00", "online_net": "30.00",
         "net": "30.00"},
        {"shop_id": a, "product_id": P3, "variant_id": "v-3", "date": "2024-05-02",
         "pos_units": 1, "units": 1, "pos_gross": "20.50", "pos_net": "20.50",
         "net": "20.50"},
        {"shop_id": b, "product_id": P9, "variant_id": "v-9", "date": "2024-05-01",
         "pos_units": 5, "units": 5, "pos_net": "500.00", "net": "500.00"},
    ])
    create_mart("product_orders_daily", [
        {"shop_id": a, "product_id": P1, "date": "2024-05-01", "receipts": 1},
        {"shop_id": a, "product_id": P1, "date": "2024-05-02", "online_orders": 1},
        {"shop_id": a, "product_id": P3, "date": "2024-05-02", "receipts": 1},
        {"shop_id": b, "product_id": P9, "date": "2024-05-01", "receipts": 5},
    ])
    create_mart("post_metric_daily", [
        {"post_id": "post-1", "shop_id": a, "date": "2024-05-01", "impressions": 100,
         "reach": 40, "views": 10, "clicks": 5, "likes": 4, "saves": 1, "shares": 1,
         "comments": 2},
        {"post_id": "post-1", "shop_id": a, "date": "2024-05-02", "impressions": 50,
         "reach": 20, "views": 5, "likes": -1},
        {"post_id": "post-2", "shop_id": a, "date": "2024-05-02", "likes": 1},
        {"post_id": "post-9", "shop_id": b, "date": "2024-05-01", "impressions": 1000},
    ])
    create_mart("order_funnel_daily", [
        {"shop_id": a, "date": "2024-05-01", "created_orders": 2, "paid_orders": 1,
         "paid_amount": "30.00"},
        {"shop_id": a, "date": "2024-05-03", "created_orders": 1},
        {"shop_id": b, "date": "2024-05-01", "created_orders": 9, "paid_orders": 9},
    ])
    create_mart("pos_device_health_daily", [
        {"device_id": "POS-A", "shop_id": a, "date": "2024-05-01", "heartbeats": 100,
         "first_heartbeat_at": "2024-05-01 02:00:00", "last_heartbeat_at": "2024-05-01 14:00:00",
         "online_minutes": "123.75", "offline_spells": 1, "dead_letters": 3,
         "dead_letters_by_reason": {"PRICE_MISMATCH": 1, "BAD_SIGNATURE": 1,
                                    "TOTAL_MISMATCH": 1},
         "offline_transitions": 1},
        {"device_id": "POS-A", "shop_id": a, "date": "2024-05-02", "heartbeats": 50,
         "online_minutes": "60.00"},
        {"device_id": "POS-B", "shop_id": b, "date": "2024-05-01", "heartbeats": 7},
    ])
    today = dt.datetime.now(dt.UTC).astimezone(
        __import__("zoneinfo").ZoneInfo(get_settings().timezone)).date()
    create_mart("shop_insights_daily", [
        {"shop_id": a, "date": "2024-05-01", "metric": "revenue", "value": "100.00",
         "baseline": "250.00", "change_pct": "-60.00", "baseline_days": 28,
         "active_days": 20, "signal": "drop"},
        {"shop_id": a, "date": "2024-05-02", "metric": "revenue", "value": "80.50",
         "baseline": "90.00", "change_pct": "-10.56", "baseline_days": 28,
         "active_days": 20, "signal": ""},
        {"shop_id": a, "date": "2024-05-02", "metric": "visits", "value": "50.00",
         "baseline": "10.00", "change_pct": "400.00", "baseline_days": 28,
         "active_days": 28, "signal": "rise"},
        {"shop_id": a, "date": str(today), "metric": "revenue", "value": "1.00",
         "baseline": "250.00", "change_pct": "-99.60", "baseline_days": 28,
         "active_days": 20, "signal": "drop"},
        {"shop_id": b, "date": "2024-05-01", "metric": "revenue", "value": "1.00",
         "signal": "drop"},
    ])
    create_mart("ad_event_daily", [
        {"campaign_id": "camp-1", "shop_id": a, "date": "2024-05-01", "pricing": "cpc",
         "impressions": 400, "clicks": 30, "billable_impressions": 390,
         "billable_clicks": 24, "invalid_impressions": 10, "invalid_clicks": 6,
         "spend": "300.00"},
        {"campaign_id": "camp-1", "shop_id": a, "date": "2024-05-02", "pricing": "cpc",
         "impressions": 210, "clicks": 8, "billable_impressions": 210, "billable_clicks": 8,
         "spend": "100.00"},
        {"campaign_id": "camp-2", "shop_id": a, "date": "2024-05-02", "pricing": "cpm",
         "impressions": 3000, "billable_impressions": 2999, "invalid_impressions": 1,
         "spend": "99.97"},
        {"campaign_id": "camp-9", "shop_id": b, "date": "2024-05-01", "pricing": "cpc",
         "clicks": 99, "billable_clicks": 99, "spend": "999.00"},
    ])
    create_mart("ad_invalid_traffic_daily", [
        {"campaign_id": "camp-1", "shop_id": a, "date": "2024-05-01", "event_type": "click",
         "reason": "burst_user", "events": 4, "value_not_billed": "50.00"},
        {"campaign_id": "camp-1", "shop_id": a, "date": "2024-05-01", "event_type": "click",
         "reason": "known_bot", "events": 2, "value_not_billed": "25.00"},
        {"campaign_id": "camp-1", "shop_id": a, "date": "2024-05-01",
         "event_type": "impression", "reason": "known_bot", "events": 10,
         "value_not_billed": "0.00"},
        {"campaign_id": "camp-9", "shop_id": b, "date": "2024-05-01", "event_type": "click",
         "reason": "own_ad", "events": 7, "value_not_billed": "70.00"},
    ])
    yield world


def get(w: World, report: str, **params: Any) -> Any:
    r = w.serving.get(f"/analytics/shops/{w.shop_a}/{report}", headers=w.seller_a.headers,
                      params=RANGE | params)
    return r


def ok(w: World, report: str, **params: Any) -> dict[str, Any]:
    r = get(w, report, **params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def column(body: dict[str, Any], name: str) -> list[Any]:
    return [row[name] for row in body["rows"]]


def test_overview_compares_the_range_with_the_period_before(w: World) -> None:
    body = ok(w, "overview")
    assert [c["name"] for c in body["columns"]] == [
        "position", "metric", "title", "kind", "value", "previous", "change_pct"]
    rows = {r["metric"]: (r["value"], r["previous"], r["change_pct"]) for r in body["rows"]}
    assert column(body, "metric") == [m.name for m in METRICS]  # in declared order
    assert rows == {
        # 100.00 + 50.50 + 30.00 online vs 04-30's 60.00 (the 3 days before 05-01)
        "revenue_gross": ("180.50", "60.00", "200.83"),
        "revenue_net": ("180.50", "60.00", "200.83"),
        "pos_net": ("150.50", "60.00", "150.83"),
        "online_net": ("30.00", "0.00", None),
        "orders": ("1.00", "0.00", None),
        "receipts": ("2.00", "1.00", "100.00"),
        "units": ("3.00", "1.00", "200.00"),         # 2 at the till + 1 online
        "avg_receipt": ("75.25", "60.00", "25.42"),  # 150.50 / 2; 15.25 / 60
        "visits": ("12.00", "2.00", "500.00"),
        "views": ("35.00", "4.00", "775.00"),
        "contact_clicks": ("2.00", "0.00", None),
        "route_builds": ("3.00", "1.00", "200.00"),
        "chats": ("1.00", "0.00", None),
        "follows": ("3.00", "1.00", "200.00"),
        "net_follows": ("2.00", "1.00", "100.00"),
        "conversion": ("8.33", "0.00", None),        # 1 order / 12 visits
    }
    assert {r["metric"]: r["kind"] for r in body["rows"]}["conversion"] == "percent"
    assert body["totals"] == {}
    # the oldest watermark of the marts read: engagement's
    assert body["as_of"].startswith("2024-05-04T09:00:00")

    by_map = {r["metric"]: (r["value"], r["previous"]) for r in
              ok(w, "overview", surface="map")["rows"]}
    assert by_map["visits"] == ("4.00", "2.00") and by_map["route_builds"] == ("2.00", "1.00")
    assert by_map["revenue_net"] == ("180.50", "60.00")  # money has no surface
    assert by_map["conversion"] == (None, None)


def test_overview_csv_has_one_line_per_metric(w: World) -> None:
    r = get(w, "overview", format="csv", dialect="rfc4180")  # ',' and the JSON's values
    assert r.status_code == 200
    lines = r.text.strip().splitlines()
    assert lines[0] == "position,metric,title,kind,value,previous,change_pct"
    assert len(lines) == 1 + len(METRICS)
    assert lines[2].startswith("2,revenue_net,") and lines[2].endswith(",180.50,60.00,200.83")


def test_products_per_product_with_sales_from_every_surface(w: World) -> None:
    body = ok(w, "products")
    assert column(body, "product_id") == [P1, P3, P2]  # by revenue, descending
    p1 = body["rows"][0]
    assert p1 == {"product_id": P1, "views": 12, "visitors": 7, "clicks": 3,
                  "add_to_cart": 2, "orders": 2, "receipts": 1, "online_orders": 1,
                  "units": 3, "pos_net": "100.00", "online_net": "30.00",
                  "revenue": "130.00", "conversion": "14.29"}
    assert body["rows"][1]["conversion"] is None and body["rows"][2]["conversion"] == "0.00"
    assert body["totals"] == {"views": 14, "visitors": 8, "clicks": 3, "add_to_cart": 2,
                              "orders": 3, "receipts": 2, "online_orders": 1, "units": 4,
                              "pos_net": "120.50", "online_net": "30.00",
                              "revenue": "150.50", "conversion": "12.50"}

    on_map = ok(w, "products", surface="map")
    assert column(on_map, "product_id") == [P1, P3]  # P2 was only seen in search
    assert (on_map["rows"][0]["views"], on_map["rows"][0]["revenue"]) == (5, "130.00")
    assert column(on_map, "conversion") == [None, None]
    assert on_map["totals"]["conversion"] is None

    paged = ok(w, "products", sort="views", page=2, page_size=2)
    assert column(paged, "product_id") == [P1]  # views 0 (P3), 2 (P2) | 12 (P1)
    assert paged["page"] == {"number": 2, "size": 2, "rows": 3, "pages": 2}
    assert paged["totals"] == body["totals"]


def test_products_answers_at_the_specs_query_address(w: World) -> None:
    r = w.serving.get("/analytics/products", headers=w.seller_a.headers,
                      params=RANGE | {"shop_id": str(w.shop_a)})
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == ok(w, "products")["rows"]
    r = w.serving.get("/analytics/products", headers=w.seller_a.headers,
                      params=RANGE | {"shop_id": str(w.shop_b)})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "SHOP_NOT_FOUND")
    r = w.serving.get("/analytics/products", headers=w.seller_a.headers, params=RANGE)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "INVALID_REQUEST")


def test_product_variants(w: World) -> None:
    body = ok(w, "product_variants")
    assert [(r["product_id"], r["variant_id"], r["units"], r["revenue"])
            for r in body["rows"]] == [(P1, "v-1", 2, "100.00"), (P1, "v-2", 1, "30.00"),
                                       (P3, "v-3", 1, "20.50")]
    assert body["totals"]["revenue"] == "150.50" and body["totals"]["online_units"] == 1


def test_posts_reach_er_ctr(w: World) -> None:
    body = ok(w, "posts")
    assert body["rows"] == [
        {"post_id": "post-1", "impressions": 150, "reach": 60, "views": 15, "clicks": 5,
         "likes": 3, "saves": 1, "shares": 1, "comments": 2, "engagements": 7,
         "er": "11.67", "ctr": "3.33"},  # 7 / 60, 5 / 150
        {"post_id": "post-2", "impressions": 0, "reach": 0, "views": 0, "clicks": 0,
         "likes": 1, "saves": 0, "shares": 0, "comments": 0, "engagements": 1,
         "er": None, "ctr": None},
    ]
    assert (body["totals"]["er"], body["totals"]["ctr"]) == ("13.33", "3.33")  # 8/60, 5/150
    assert column(ok(w, "posts", sort="likes"), "post_id") == ["post-2", "post-1"]


def test_ad_campaigns_spend_and_prices(w: World) -> None:
    body = ok(w, "ads")
    assert body["rows"] == [
        {"campaign_id": "camp-1", "pricing": "cpc", "impressions": 610, "clicks": 38,
         "billable_impressions": 600, "billable_clicks": 32, "invalid_impressions": 10,
         "invalid_clicks": 6, "spend": "400.00", "ctr": "5.33", "cpc": "12.50",
         "cpm": "666.67"},  # 32 / 600; 400 / 32; 400 * 1000 / 600
        {"campaign_id": "camp-2", "pricing": "cpm", "impressions": 3000, "clicks": 0,
         "billable_impressions": 2999, "billable_clicks": 0, "invalid_impressions": 1,
         "invalid_clicks": 0, "spend": "99.97", "ctr": "0.00", "cpc": None,
         "cpm": "33.33"},
    ]
    totals = body["totals"]
    assert (totals["spend"], totals["cpc"], totals["cpm"], totals["ctr"]) == (
        "499.97", "15.62", "138.92", "0.89")  # 499.97/32; 499970/3599; 32/3599
    traffic = ok(w, "ad_traffic")
    assert [(r["event_type"], r["reason"], r["events"], r["value_not_billed"])
            for r in traffic["rows"]] == [("impression", "known_bot", 10, "0.00"),
                                          ("click", "burst_user", 4, "50.00"),
                                          ("click", "known_bot", 2, "25.00")]
    assert traffic["totals"]["value_not_billed"] == "75.00"


def test_map_point_views_and_routes(w: World) -> None:
    body = ok(w, "map")
    assert body["rows"] == [
        {"date": "2024-05-01", "point_views": 8, "visitors": 4, "clicks": 3,
         "route_builds": 2, "chats": 1, "call_clicks": 1, "route_builds_all": 2,
         "route_rate": "25.00"},
        {"date": "2024-05-02", "point_views": 0, "visitors": 0, "clicks": 0,
         "route_builds": 0, "chats": 0, "call_clicks": 0, "route_builds_all": 1,
         "route_rate": None},
    ]
    assert body["totals"]["route_builds_all"] == 3 and body["totals"]["route_rate"] == "25.00"


def test_funnel_steps_and_rates(w: World) -> None:
    body = ok(w, "funnel")
    assert [(r["date"], r["views"], r["clicks"], r["add_to_cart"], r["orders_created"],
             r["orders_paid"], r["click_rate"], r["cart_rate"], r["order_rate"],
             r["paid_rate"]) for r in body["rows"]] == [
        ("2024-05-01", 30, 7, 3, 2, 1, "23.33", "42.86", "66.67", "50.00"),
        ("2024-05-02", 5, 1, 0, 0, 0, "20.00", "0.00", None, None),
        ("2024-05-03", 0, 0, 0, 1, 0, None, None, None, "0.00"),
    ]
    assert {k: body["totals"][k] for k in ("views", "paid_amount", "click_rate", "cart_rate",
                                           "order_rate", "paid_rate")} == {
        "views": 35, "paid_amount": "30.00", "click_rate": "22.86", "cart_rate": "37.50",
        "order_rate": "100.00", "paid_rate": "33.33"}
    feed = ok(w, "funnel", surface="feed", sort="-date")
    assert [(r["date"], r["views"], r["orders_created"]) for r in feed["rows"]] == [
        ("2024-05-03", 0, 1), ("2024-05-01", 20, 2)]


def test_pos_device_health_and_dead_letters(w: World) -> None:
    body = ok(w, "pos")
    first = body["rows"][0]
    assert first | {"first_heartbeat_at": None, "last_heartbeat_at": None} == {
        "device_id": "POS-A", "date": "2024-05-01", "heartbeats": 100,
        "first_heartbeat_at": None, "last_heartbeat_at": None, "online_minutes": 123,
        "offline_spells": 1, "late_heartbeats": 0, "offline_transitions": 1,
        "dead_letters": 3, "dead_letters_device": 1, "dead_letters_items": 1,
        "dead_letters_other": 1,
        "dead_letter_reasons": "BAD_SIGNATURE: 1, PRICE_MISMATCH: 1, TOTAL_MISMATCH: 1"}
    assert first["first_heartbeat_at"].startswith("2024-05-01T02:00:00")
    assert body["rows"][1]["dead_letter_reasons"] == ""
    assert body["totals"]["heartbeats"] == 150 and body["totals"]["online_minutes"] == 183


def test_the_dead_letter_groups_cover_every_reason_the_core_gives() -> None:
    from marketplace_core.pos.ingest import REASONS

    assert set(DEVICE_REASONS) | set(ITEM_REASONS) <= set(REASONS)
    assert not set(DEVICE_REASONS) & set(ITEM_REASONS)
    assert {r for r, code in REASONS.items() if code == "INVALID_ITEM"} == set(ITEM_REASONS)


def test_daily_report_against_a_week_before(w: World) -> None:
    body = ok(w, "daily")
    assert body["rows"] == [
        {"date": "2024-05-02", "revenue_net": "80.50", "revenue_net_week_ago": "40.00",
         "revenue_change_pct": "101.25", "receipts": 1, "online_orders": 1, "units": 2,
         "avg_receipt": "50.50", "visits": 2, "visits_week_ago": 0,
         "visits_change_pct": None, "contact_clicks": 1, "route_builds": 1, "chats": 0,
         "follows": 0, "conversion": "50.00"},
        {"date": "2024-05-01", "revenue_net": "100.00", "revenue_net_week_ago": "0.00",
         "revenue_change_pct": None, "receipts": 1, "online_orders": 0, "units": 1,
         "avg_receipt": "100.00", "visits": 10, "visits_week_ago": 0,
         "visits_change_pct": None, "contact_clicks": 1, "route_builds": 2, "chats": 1,
         "follows": 3, "conversion": "0.00"},
    ]
    # (80.50 - 40.00 + 100.00 - 0.00) / 40.00
    assert body["totals"]["revenue_change_pct"] == "351.25"
    assert body["totals"]["avg_receipt"] == "75.25" and body["totals"]["conversion"] == "8.33"


def test_insights_list_the_drops_and_rises_of_complete_days(w: World) -> None:
    body = ok(w, "insights")
    assert [(r["date"], r["metric"], r["signal"], r["value"], r["baseline"],
             r["change_pct"]) for r in body["rows"]] == [
        ("2024-05-02", "visits", "rise", "50.00", "10.00", "400.00"),
        ("2024-05-01", "revenue", "drop", "100.00", "250.00", "-60.00"),
    ]
    assert body["rows"][1]["metric_title"] == "Чистая выручка, сом"
    tz = __import__("zoneinfo").ZoneInfo(get_settings().timezone)
    today = dt.datetime.now(tz).date()
    r = ok(w, "insights", **{"from": str(today - dt.timedelta(days=1)), "to": str(today)})
    assert r["rows"] == []  # today is still filling up


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_is_not_ready_while_a_mart_is_missing(w: World, name: str) -> None:
    from warehouse.client import get_client

    db = get_settings().warehouse_database
    client = get_client()
    assert ok(w, name)["report"] == name
    for model in REPORTS[name].models:
        client.command(f"RENAME TABLE `{db}`.`{model}` TO `{db}`.`{model}_away`")
        try:
            for fmt in ("json", "csv"):
                r = get(w, name, format=fmt)
                assert r.status_code == 503, (model, fmt, r.text)
                assert r.json()["error"]["code"] == "REPORT_NOT_READY"
        finally:
            client.command(f"RENAME TABLE `{db}`.`{model}_away` TO `{db}`.`{model}`")


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_refuses_bad_input_with_a_stable_code(w: World, name: str) -> None:
    report = REPORTS[name]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"from": "2024-05-03", "to": "2024-05-01"}, "INVALID_DATE_RANGE"),
        ({"from": "2023-01-01", "to": "2024-05-01"}, "INVALID_DATE_RANGE"),
        ({"from": "1999-12-31", "to": "2000-01-02"}, "INVALID_DATE_RANGE"),
        ({"surface": "adverts"}, "INVALID_SURFACE"),
        ({"sort": "nope"}, "INVALID_SORT"),
        ({"sort": "-"}, "INVALID_SORT"),
        ({"page_size": "100000"}, "INVALID_REQUEST"),
        ({"surface": "map" * 20}, "INVALID_REQUEST"),
    ]
    if not report.surfaces:
        cases.append(({"surface": "map"}, "INVALID_SURFACE"))
    else:  # the spec's name for the ad surface reads as the events' `ad`
        assert get(w, name, surface="ads").json() == get(w, name, surface="ad").json()
    hidden = [c.name for c in report.columns if c.hidden]
    cases += [({"sort": h}, "INVALID_SORT") for h in hidden]
    for params, code in cases:
        r = get(w, name, **params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == code, (params, r.text)


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_sorts_pages_and_says_how_fresh_it_is(w: World, name: str) -> None:
    report = REPORTS[name]
    whole = ok(w, name, page_size=500)
    assert whole["sort"] == report.default_sort
    assert whole["as_of"] is not None  # every hand-written mart has its watermark
    for sort in (report.visible[-1].name, f"-{report.visible[-1].name}"):
        body = ok(w, name, sort=sort, page_size=500)
        assert body["sort"] == sort
        assert sorted(map(repr, body["rows"])) == sorted(map(repr, whole["rows"]))
        assert body["totals"] == whole["totals"]
    rows = whole["page"]["rows"]
    assert rows >= 2, "every report has rows for shop A in the range"
    size = -(-rows // 3)  # three pages at most (the overview has 16 rows)
    pages = [ok(w, name, page=n, page_size=size) for n in range(1, -(-rows // size) + 1)]
    assert [r for p in pages for r in p["rows"]] == whole["rows"]
    assert pages[0]["page"] == {"number": 1, "size": size, "rows": rows,
                                "pages": -(-rows // size)}
    assert ok(w, name, page=len(pages) + 1, page_size=size)["rows"] == []
