"""The catalog over HTTP: categories (admins), shops, products and variants (owners),
the public product card and search, audit entries, and the errors of each."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from marketplace_core.audit import list_entries
from marketplace_core.catalog.barcodes import KYRGYZSTAN_GS1_PREFIX, ean13_with_check
from marketplace_core.db import transaction
from marketplace_core.outbox.writer import decode
from schemas.topics import CORE_VARIANTS
from tests.core.auth_helpers import TestUser, make_seller_with_shop, make_user

pytestmark = pytest.mark.integration


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == code, body
    return body


def _barcode() -> str:
    return ean13_with_check(KYRGYZSTAN_GS1_PREFIX + f"{secrets.randbelow(10**9):09d}")


@pytest.fixture(scope="module")
def admin(core_api: Any) -> TestUser:
    return make_user(core_api, "admin")


@pytest.fixture(scope="module")
def owner(core_api: Any) -> tuple[TestUser, UUID, UUID]:
    return make_seller_with_shop(core_api)


def _audit(core_api: Any, entity_type: str, entity_id: object) -> list[str]:
    with transaction(core_api.app.state.pool) as conn:
        return [e.action for e in list_entries(conn, entity_type=entity_type,
                                               entity_id=str(entity_id))]


def _product_body(**extra: Any) -> dict[str, Any]:
    body = {
        "name": {"ru": "Курага", "ky": "Өрүк кагы", "en": "Dried apricots"},
        "description": {"ru": "Баткенская курага без косточки."},
        "variants": [
            {"sku": f"K1-{secrets.token_hex(4)}", "price": "350.00", "stock_qty": 40,
             "barcode": _barcode(), "attributes": {"weight_g": 500}},
            {"sku": f"K2-{secrets.token_hex(4)}", "price": "650.50", "stock_qty": 12,
             "qr_code": f"https://bazaar.kg/q/{secrets.token_hex(6)}",
             "attributes": {"weight_g": 1000}},
        ],
    }
    body.update(extra)
    return body


# --- categories ------------------------------------------------------------------------


def test_categories_are_admin_only_and_never_cycle(core_api: Any, admin: TestUser,
                                                   owner: tuple[TestUser, UUID, UUID]) -> None:
    seller = owner[0]
    slug = f"food-{secrets.token_hex(4)}"
    body = {"slug": slug, "name": {"ru": "Продукты", "ky": "Азык-түлүк"}}
    _error(core_api.post("/categories", json=body, headers=seller.headers), 403, "FORBIDDEN")
    _error(core_api.post("/categories", json=body), 401, "UNAUTHORIZED")
    root = _ok(core_api.post("/categories", json=body, headers=admin.headers), 201)
    assert root["name"] == {"ru": "Продукты", "ky": "Азык-түлүк", "en": None, "zh": None,
                            "kk": None, "uz": None}
    child = _ok(core_api.post("/categories", headers=admin.headers, json={
        "slug": f"{slug}-honey", "name": {"ru": "Мёд"}, "parent_id": root["id"]}), 201)
    _error(core_api.post("/categories", json=body, headers=admin.headers), 409, "DUPLICATE_SLUG")
    _error(core_api.post("/categories", headers=admin.headers, json={
        "slug": "x-" + slug, "name": {"ky": "Бал"}}), 422, "INVALID_REQUEST")
    _error(core_api.patch(f"/categories/{root['id']}", headers=admin.headers,
                          json={"parent_id": child["id"]}), 409, "CATEGORY_CYCLE")
    _error(core_api.patch(f"/categories/{child['id']}", headers=seller.headers,
                          json={"name": {"ky": "Бал"}}), 403, "FORBIDDEN")
    renamed = _ok(core_api.patch(f"/categories/{child['id']}", headers=admin.headers,
                                 json={"name": {"ky": "Бал"}, "parent_id": None}))
    assert renamed["name"]["ru"] == "Мёд" and renamed["name"]["ky"] == "Бал"
    assert renamed["parent_id"] is None
    _error(core_api.patch(f"/categories/{uuid4()}", headers=admin.headers,
                          json={"sort_order": 1}), 404, "CATEGORY_NOT_FOUND")
    tree = _ok(core_api.get("/categories"))
    ids = {n["id"] for n in tree}
    assert root["id"] in ids and child["id"] in ids
    assert _audit(core_api, "category", child["id"]) == ["category.update", "category.create"]


# --- shops -------------------------------------------------------------------------------


def test_shops_owner_or_admin(core_api: Any, admin: TestUser,
                              owner: tuple[TestUser, UUID, UUID]) -> None:
    seller, merchant_id, _ = owner
    stranger = make_user(core_api, "seller")
    body = {"name": "Кийиз Art", "address": "ЦУМ, 3 этаж", "phone": "+996 555 630 912",
            "lat": "42.876400", "lon": 74.614, "market": "TSUM"}
    _error(core_api.post(f"/merchants/{merchant_id}/shops", json=body,
                         headers=stranger.headers), 403, "FORBIDDEN")
    _error(core_api.post(f"/merchants/{uuid4()}/shops", json=body, headers=admin.headers),
           404, "MERCHANT_NOT_FOUND")
    _error(core_api.post(f"/merchants/{merchant_id}/shops", json={**body, "lat": 95},
                         headers=seller.headers), 422, "INVALID_REQUEST")
    shop = _ok(core_api.post(f"/merchants/{merchant_id}/shops", json=body,
                             headers=seller.headers), 201)
    assert (shop["lat"], shop["lon"], shop["payout_status"]) == ("42.876400", "74.614000",
                                                                 "active")
    assert _ok(core_api.get(f"/shops/{shop['id']}")) == shop
    _error(core_api.patch(f"/shops/{shop['id']}", json={"phone": None},
                          headers=stranger.headers), 403, "FORBIDDEN")
    _error(core_api.patch(f"/shops/{shop['id']}", json={"payout_status": "inactive"},
                          headers=seller.headers), 422, "INVALID_REQUEST")
    changed = _ok(core_api.patch(f"/shops/{shop['id']}", json={"phone": None, "market": "Vefa"},
                                 headers=admin.headers))
    assert (changed["phone"], changed["market"], changed["address"]) == (
        None, "Vefa", "ЦУМ, 3 этаж")
    _error(core_api.get(f"/shops/{uuid4()}"), 404, "SHOP_NOT_FOUND")
    assert _audit(core_api, "shop", shop["id"]) == ["shop.update", "shop.create"]


# --- products, variants and the card ------------------------------------------------------


def test_product_lifecycle_card_and_events(core_api: Any, owner: tuple[TestUser, UUID, UUID]
                                           ) -> None:
    seller, _, shop_id = owner
    created = _ok(core_api.post(f"/shops/{shop_id}/products", json=_product_body(),
                                headers=seller.headers), 201)
    pid = created["id"]
    assert [v["price"] for v in created["variants"]] == ["350.00", "650.50"]
    assert created["name"]["en"] == "Dried apricots" and created["available_qty"] is None

    card = _ok(core_api.get(f"/products/{pid}", headers={"Accept-Language": "ky-KG,ru;q=0.5"}))
    assert (card["lang"], card["name"], card["description"]) == (
        "ky", "Өрүк кагы", "Баткенская курага без косточки.")
    assert card["price_min"] == "350.00" and card["shop"]["id"] == str(shop_id)
    assert {v["sku"] for v in card["variants"]} == {v["sku"] for v in created["variants"]}
    en = core_api.get(f"/products/{pid}?lang=en", headers={"Accept-Language": "ky"})
    assert en.json()["name"] == "Dried apricots" and en.headers["content-language"] == "en"
    assert _ok(core_api.get(f"/products/{pid}?lang=kk"))["name"] == "Курага"
    _error(core_api.get(f"/products/{pid}?lang=fr"), 422, "INVALID_LANGUAGE")

    variant_id = created["variants"][0]["id"]
    priced = _ok(core_api.patch(f"/variants/{variant_id}", json={"price": "399.90"},
                                headers=seller.headers))
    assert priced["price"] == "399.90"
    _error(core_api.patch(f"/variants/{variant_id}", json={"price": 399.9},
                          headers=seller.headers), 422, "INVALID_REQUEST")
    _error(core_api.patch(f"/variants/{variant_id}", json={"price": "1.999"},
                          headers=seller.headers), 422, "INVALID_REQUEST")
    _error(core_api.patch(f"/variants/{variant_id}", json={"price": "-5.00"},
                          headers=seller.headers), 422, "INVALID_PRICE")
    stocked = _ok(core_api.put(f"/variants/{variant_id}/stock", json={"stock_qty": 7},
                               headers=seller.headers))
    assert stocked["stock_qty"] == 7
    _error(core_api.put(f"/variants/{variant_id}/stock", json={"stock_qty": -1},
                        headers=seller.headers), 422, "INVALID_REQUEST")
    added = _ok(core_api.post(f"/products/{pid}/variants", headers=seller.headers, json={
        "sku": f"K3-{secrets.token_hex(4)}", "price": "1200", "attributes": {"weight_g": 2000}}),
        201)
    assert added["price"] == "1200.00"
    renamed = _ok(core_api.patch(f"/products/{pid}", headers=seller.headers,
                                 json={"name": {"ky": "Кургак өрүк", "en": None}}))
    assert renamed["name"]["ky"] == "Кургак өрүк" and renamed["name"]["en"] is None
    assert renamed["name"]["ru"] == "Курага" and len(renamed["variants"]) == 3

    with transaction(core_api.app.state.pool) as conn:
        rows = conn.execute("select payload from outbox where entity_id = %s order by id",
                            (variant_id,)).fetchall()
    events = [decode(CORE_VARIANTS, r[0]) for r in rows]
    assert [e["event_type"] for e in events] == [
        "variant.created", "variant.price_changed", "variant.stock_changed"]
    assert events[1]["price"] == Decimal("399.90")
    assert (events[2]["stock_delta"], events[2]["reason"]) == (-33, "manual")

    _ok(core_api.delete(f"/products/{pid}", headers=seller.headers), 204)
    _error(core_api.get(f"/products/{pid}"), 404, "PRODUCT_NOT_FOUND")
    _error(core_api.patch(f"/variants/{variant_id}", json={"price": "1.00"},
                          headers=seller.headers), 404, "VARIANT_NOT_FOUND")
    assert _audit(core_api, "product", pid) == [
        "product.delete", "product.update", "product.create"]
    assert _audit(core_api, "variant", variant_id) == ["variant.stock", "variant.update"]


def test_duplicates_and_bad_codes(core_api: Any, owner: tuple[TestUser, UUID, UUID]) -> None:
    seller, _, shop_id = owner
    body = _product_body()
    _ok(core_api.post(f"/shops/{shop_id}/products", json=body, headers=seller.headers), 201)
    again = _product_body()
    again["variants"][0]["barcode"] = body["variants"][0]["barcode"]
    _error(core_api.post(f"/shops/{shop_id}/products", json=again, headers=seller.headers),
           409, "DUPLICATE_BARCODE")
    again = _product_body()
    again["variants"][1]["sku"] = body["variants"][1]["sku"]
    _error(core_api.post(f"/shops/{shop_id}/products", json=again, headers=seller.headers),
           409, "DUPLICATE_SKU")
    bad = _product_body()
    bad["variants"][0]["barcode"] = "4700000000013"
    _error(core_api.post(f"/shops/{shop_id}/products", json=bad, headers=seller.headers),
           422, "INVALID_BARCODE")
    # nothing of the rejected products was kept (the first variant was valid)
    with transaction(core_api.app.state.pool) as conn:
        skus = [r[0] for r in conn.execute(
            "select sku from product_variants where shop_id = %s", (shop_id,))]
    assert again["variants"][0]["sku"] not in skus and bad["variants"][1]["sku"] not in skus


def test_foreign_seller_and_buyer_are_refused(core_api: Any, owner: tuple[TestUser, UUID, UUID]
                                              ) -> None:
    seller, _, shop_id = owner
    stranger = make_user(core_api, "seller")
    buyer = make_user(core_api, "buyer")
    product = _ok(core_api.post(f"/shops/{shop_id}/products", json=_product_body(),
                                headers=seller.headers), 201)
    variant_id = product["variants"][0]["id"]
    for user in (stranger, buyer):
        _error(core_api.post(f"/shops/{shop_id}/products", json=_product_body(),
                             headers=user.headers), 403, "FORBIDDEN")
        _error(core_api.patch(f"/products/{product['id']}", json={"name": {"ky": "x"}},
                              headers=user.headers), 403, "FORBIDDEN")
        _error(core_api.delete(f"/products/{product['id']}", headers=user.headers),
               403, "FORBIDDEN")
        _error(core_api.put(f"/variants/{variant_id}/stock", json={"stock_qty": 1},
                            headers=user.headers), 403, "FORBIDDEN")
        _error(core_api.patch(f"/variants/{variant_id}", json={"price": "1.00"},
                              headers=user.headers), 403, "FORBIDDEN")
    _error(core_api.post(f"/shops/{shop_id}/products", json=_product_body()), 401,
           "UNAUTHORIZED")
    _error(core_api.post(f"/shops/{uuid4()}/products", json=_product_body(),
                         headers=seller.headers), 404, "SHOP_NOT_FOUND")


@pytest.mark.parametrize("patch", [
    {"variants": []},
    {"variants": [{"sku": "X", "price": 10.5}]},
    {"variants": [{"sku": "X", "price": "10.555"}]},
    {"variants": [{"sku": "X", "price": "abc"}]},
    {"variants": [{"sku": "", "price": "1.00"}]},
    {"variants": [{"sku": "X", "price": "1.00", "stock_qty": -1}]},
    {"variants": [{"sku": "X", "price": "1.00", "attributes": {"a": {"nested": 1}}}]},
    {"name": {"ru": ""}},
    {"name": {"ky": "Өрүк"}},
    {"name": {"ru": "Курага", "fr": "Abricots"}},
    {"category_id": "not-a-uuid"},
    {"unexpected": True},
])
def test_malformed_product_bodies_are_422(core_api: Any, owner: tuple[TestUser, UUID, UUID],
                                          patch: dict[str, Any]) -> None:
    seller, _, shop_id = owner
    _error(core_api.post(f"/shops/{shop_id}/products", json=_product_body(**patch),
                         headers=seller.headers), 422, "INVALID_REQUEST")


def test_bundle_over_http(core_api: Any, owner: tuple[TestUser, UUID, UUID]) -> None:
    seller, _, shop_id = owner
    product = _ok(core_api.post(f"/shops/{shop_id}/products", json=_product_body(),
                                headers=seller.headers), 201)
    small, large = (v["id"] for v in product["variants"])  # stock 40 and 12
    bundle = _ok(core_api.post(f"/shops/{shop_id}/products", headers=seller.headers, json={
        "name": {"ru": "Набор сухофруктов"},
        "variants": [{"sku": f"SET-{secrets.token_hex(4)}", "price": "899.00"}],
        "bundle_items": [{"variant_id": small, "quantity": 3},
                         {"variant_id": large, "quantity": 2}]}), 201)
    assert bundle["is_bundle"] and bundle["available_qty"] == 6  # min(40//3, 12//2)
    card = _ok(core_api.get(f"/products/{bundle['id']}"))
    assert card["variants"][0]["stock_qty"] == 6
    assert {(i["variant_id"], i["quantity"]) for i in card["bundle_items"]} == {
        (small, 3), (large, 2)}
    _error(core_api.put(f"/variants/{bundle['variants'][0]['id']}/stock",
                        json={"stock_qty": 5}, headers=seller.headers),
           409, "BUNDLE_STOCK_DERIVED")
    _error(core_api.delete(f"/variants/{large}", headers=seller.headers),
           409, "VARIANT_IN_BUNDLE")
    _error(core_api.post(f"/shops/{shop_id}/products", headers=seller.headers, json={
        "name": {"ru": "Плохой набор"},
        "variants": [{"sku": f"SET-{secrets.token_hex(4)}", "price": "1.00"}],
        "bundle_items": [{"variant_id": str(uuid4()), "quantity": 1}]}), 422, "INVALID_BUNDLE")


def test_search_over_http(core_api: Any, owner: tuple[TestUser, UUID, UUID]) -> None:
    seller, _, shop_id = owner
    word = "Шырдак"
    body = _product_body(name={"ru": f"{word} войлочный", "ky": "Кийиз шырдак"})
    product = _ok(core_api.post(f"/shops/{shop_id}/products", json=body,
                                headers=seller.headers), 201)
    page = _ok(core_api.get("/search/products", params={
        "q": "шырдк", "shop_id": str(shop_id), "lang": "ky"}))
    assert page["items"][0]["product_id"] == product["id"]
    assert page["items"][0]["name"] == "Кийиз шырдак"
    assert page["items"][0]["price_min"] == "350.00"
    assert page["items"][0]["shop"]["id"] == str(shop_id)
    _error(core_api.get("/search/products", params={"price_min": "10", "price_max": "5"}),
           422, "SEARCH_PRICE_RANGE_INVALID")
    _error(core_api.get("/search/products", params={"lat": "42.8"}),
           422, "SEARCH_POINT_INCOMPLETE")
    _error(core_api.get("/search/products", params={"radius_km": "3"}),
           422, "SEARCH_RADIUS_WITHOUT_POINT")
    _error(core_api.get("/search/products", params={"price_min": "1.005"}),
           422, "INVALID_REQUEST")
    _error(core_api.get("/search/products", params={"limit": "0"}), 422, "INVALID_REQUEST")


def test_openapi_documents_catalog_routes(core_api: Any) -> None:
    spec = core_api.get("/openapi.json").json()
    for path, method in (("/categories", "post"), ("/shops/{shop_id}/products", "post"),
                         ("/products/{product_id}", "get"), ("/variants/{variant_id}", "patch"),
                         ("/search/products", "get"), ("/shops/{shop_id}/imports", "post")):
        operation = spec["paths"][path][method]
        assert operation["summary"] and "422" in operation["responses"], (path, method)
    price = spec["components"]["schemas"]["VariantIn"]["properties"]["price"]
    assert price["type"] == "string"
