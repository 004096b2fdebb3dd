"""The product card cache (catalog/card_cache.py) never serves a stale card once a change
has committed: a price, a stock, a name, a bundle's components, a shop or a category
changed by the API, by another process or by plain SQL shows on the very next read, in
every process; an uncommitted change does not show."""

from __future__ import annotations

import secrets
import threading
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from marketplace_core.api.routers import products as products_router
from marketplace_core.catalog.card import ProductCard
from marketplace_core.catalog.card_cache import CardCache
from tests.core.auth_helpers import TestUser, make_seller_with_shop

pytestmark = pytest.mark.integration


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def owner(core_api: Any) -> tuple[TestUser, UUID, UUID]:
    return make_seller_with_shop(core_api)


def _product(core_api: Any, owner: tuple[TestUser, UUID, UUID], **extra: Any) -> Any:
    seller, _, shop_id = owner
    tag = secrets.token_hex(4)
    body = {"name": {"ru": "Курага"},
            "variants": [{"sku": f"K-A-{tag}", "price": "350",
                          "stock_qty": 40},
                         {"sku": f"K-B-{tag}", "price": "650.50",
                          "stock_qty": 12}], **extra}
    created = _ok(core_api.post(f"/shops/{shop_id}/products", json=body,
                                headers=seller.headers), 201)
    created["variants"].sort(key=lambda v: v["sku"])  # 350 / stock 40, then 650.50 / 12
    return created


def _render(card: ProductCard) -> dict[str, Any]:
    return {"name": card.name, "shop": card.shop.name,
            "category": [c.name for c in card.category_path],
            "variants": {str(v.id): (v.price, v.stock_qty) for v in card.variants}}


def _process_cache() -> CardCache[bytes]:
    cache = products_router._card_cache()
    assert cache is not None, "the API runs with its card cache on by default"
    return cache


def test_api_serves_changes_on_the_next_read(core_api: Any, core_dsn: str,
                                             owner: tuple[TestUser, UUID, UUID]) -> None:
    seller, _, shop_id = owner
    product = _product(core_api, owner)
    pid, (v1, v2) = product["id"], (v["id"] for v in product["variants"])
    cache = _process_cache()

    def card() -> dict[str, Any]:
        body = _ok(core_api.get(f"/products/{pid}"))
        return {"_": body["name"],
                **{v["id"]: (v["price"], v["stock_qty"]) for v in body["variants"]}}

    assert card()[v1] == ("350.00", 40)
    hits = cache.hits
    assert card()[v1] == ("350.00", 40) and cache.hits > hits  # served from the cache

    # through the API
    _ok(core_api.patch(f"/variants/{v1}", json={"price": "399.90"}, headers=seller.headers))
    assert card()[v1] == ("399.90", 40)
    _ok(core_api.put(f"/variants/{v2}/stock", json={"stock_qty": 3}, headers=seller.headers))
    assert card()[v2] == ("650.50", 3)
    _ok(core_api.patch(f"/products/{pid}", json={"name": {"ru": "Курага сушёная"}},
                       headers=seller.headers))
    assert card()["_"] == "Курага сушёная"

    # by another process (an order, the POS ingest, psql): plain SQL on its own connection
    with psycopg.connect(core_dsn, autocommit=True) as other:
        other.execute("update product_variants set stock_qty = stock_qty - 1, price = 401"
                      " where id = %s", (v1,))
        assert card()[v1] == ("401.00", 39)
        with other.transaction():  # not committed yet: the cached card is still right
            other.execute("update product_variants set stock_qty = 0 where id = %s", (v1,))
            assert card()[v1] == ("401.00", 39)
            assert card()[v1] == ("401.00", 39)
        assert card()[v1] == ("401.00", 0)  # committed: the very next read shows it
        other.execute("update shops set name = %s where id = %s",
                      (f"Дүкөн {secrets.token_hex(3)}", shop_id))
        name = other.execute("select name from shops where id = %s", (shop_id,)).fetchone()
        assert name is not None
        assert _ok(core_api.get(f"/products/{pid}"))["shop"]["name"] == name[0]

    _ok(core_api.delete(f"/products/{pid}", headers=seller.headers), 204)
    assert core_api.get(f"/products/{pid}").status_code == 404


def test_bundle_card_follows_its_components(core_api: Any, core_dsn: str,
                                            owner: tuple[TestUser, UUID, UUID]) -> None:
    product = _product(core_api, owner)
    small, large = (v["id"] for v in product["variants"])  # stock 40 and 12
    seller, _, shop_id = owner
    bundle = _ok(core_api.post(f"/shops/{shop_id}/products", headers=seller.headers, json={
        "name": {"ru": "Набор"},
        "variants": [{"sku": f"SET-{secrets.token_hex(4)}", "price": "899.00"}],
        "bundle_items": [{"variant_id": small, "quantity": 3},
                         {"variant_id": large, "quantity": 2}]}), 201)

    def stock() -> int:
        return int(_ok(core_api.get(f"/products/{bundle['id']}"))["variants"][0]["stock_qty"])

    assert stock() == 6 and stock() == 6  # min(40 // 3, 12 // 2), the second read cached
    with psycopg.connect(core_dsn, autocommit=True) as other:
        other.execute("update product_variants set stock_qty = 4 where id = %s", (large,))
    assert stock() == 2
    _ok(core_api.patch(f"/products/{product['id']}", json={"name": {"ru": "Урюк"}},
                       headers=seller.headers))
    items = _ok(core_api.get(f"/products/{bundle['id']}"))["bundle_items"]
    assert {i["name"] for i in items} == {"Урюк"}


def test_category_rename_reaches_cached_cards(core_api: Any, core_dsn: str,
                                              owner: tuple[TestUser, UUID, UUID]) -> None:
    with psycopg.connect(core_dsn, autocommit=True) as other:
        row = other.execute(
            "insert into categories (slug, name_ru, name_ky) values (%s, 'Сухофрукты',"
            " 'Кургак жемиштер') returning id", (f"dried-{secrets.token_hex(4)}",)).fetchone()
        assert row is not None
        product = _product(core_api, owner, category_id=str(row[0]))
        path = _ok(core_api.get(f"/products/{product['id']}"))["category_path"]
        assert [c["name"] for c in path] == ["Сухофрукты"]
        other.execute("update categories set name_ru = 'Орехи и сухофрукты' where id = %s",
                      (row[0],))
    path = _ok(core_api.get(f"/products/{product['id']}"))["category_path"]
    assert [c["name"] for c in path] == ["Орехи и сухофрукты"]


def test_no_process_serves_a_stale_price_after_commit(
        core_api: Any, core_dsn: str, owner: tuple[TestUser, UUID, UUID]) -> None:
    """Four 'processes' (caches of their own, connections of their own) read while a writer
    raises a price 200 times; a read that starts after a commit returned never shows an
    older price."""
    product = _product(core_api, owner)
    pid, vid = UUID(product["id"]), product["variants"][0]["id"]
    committed = [Decimal("350.00")]   # prices whose commit has returned, in order
    stop = threading.Event()
    stale: list[tuple[Decimal, Decimal]] = []
    reads = [0]

    def reader() -> None:
        cache: CardCache[dict[str, Any]] = CardCache(100)
        with psycopg.connect(core_dsn, autocommit=True) as conn:
            while not stop.is_set():
                floor = committed[-1]
                card = cache.get(conn, pid, "ru", _render)
                assert card is not None
                seen = card["variants"][vid][0]
                reads[0] += 1
                if seen < floor:
                    stale.append((seen, floor))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        with psycopg.connect(core_dsn, autocommit=True) as writer:
            for i in range(1, 201):
                price = Decimal("350.00") + i
                writer.execute("update product_variants set price = %s where id = %s",
                               (price, vid))
                committed.append(price)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not stale, stale[:5]
    assert reads[0] > 200
