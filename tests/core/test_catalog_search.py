"""Product search: Russian and Kyrgyz text with typos, filters, distance, bad filters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.search import SearchQuery, search_products
from marketplace_core.errors import ErrorCode, ValidationError

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]


def _shop(conn: Conn, lat: str, lon: str, name: str = "Магазин") -> catalog.Shop:
    merchant = catalog.create_merchant(conn, "ИП Поиск")
    return catalog.create_shop(conn, merchant.id, name, lat=Decimal(lat), lon=Decimal(lon))


def _product(conn: Conn, shop: catalog.Shop, name_ru: str, name_ky: str | None,
             *prices: str, category_id: UUID | None = None,
             description_ru: str | None = None) -> catalog.Product:
    product = catalog.create_product(conn, shop.id, name_ru, name_ky=name_ky,
                                     category_id=category_id, description_ru=description_ru)
    for n, price in enumerate(prices):
        catalog.create_variant(conn, product.id, f"{product.id.hex[:8]}-{n}", Decimal(price),
                               stock_qty=3)
    return product


@pytest.fixture
def market(conn: Conn) -> dict[str, Any]:
    shop = _shop(conn, "42.875300", "74.590300", "Smart Store")
    root = catalog.create_category(conn, f"el-{uuid4().hex[:8]}", "Электроника", "Электроника")
    phones = catalog.create_category(conn, f"ph-{uuid4().hex[:8]}", "Смартфоны", "Смартфондор",
                                     parent_id=root.id)
    other = catalog.create_category(conn, f"fd-{uuid4().hex[:8]}", "Продукты", "Азык-түлүк")
    return {
        "shop": shop, "root": root, "phones": phones, "other": other,
        "phone": _product(conn, shop, "Смартфон Redmi 13C", "Redmi 13C смартфону",
                          "11900.00", "14900.00", category_id=phones.id),
        "case": _product(conn, shop, "Чехол для телефона", "Телефон үчүн кап", "350.00",
                         category_id=root.id),
        "felt": _product(conn, shop, "Тапочки войлочные", "Кийиз тапочка", "850.00",
                         category_id=other.id, description_ru="Ручная работа, Нарын"),
        "honey": _product(conn, shop, "Мёд белый горный", "Ак тоо балы", "600.00", "1100.00",
                          category_id=other.id),
    }


def _ids(conn: Conn, **filters: Any) -> list[UUID]:
    return [h.product_id for h in search_products(conn, SearchQuery(**filters)).items]


def test_russian_typos_and_stems(conn: Conn, market: dict[str, Any]) -> None:
    shop_id = market["shop"].id
    for q in ("смартфон", "смартфоны", "смартфн", "СМАРТФОН", "redmi"):
        assert _ids(conn, q=q, shop_id=shop_id)[:1] == [market["phone"].id], q
    assert _ids(conn, q="чехлы", shop_id=shop_id) == [market["case"].id]
    assert _ids(conn, q="нарын", shop_id=shop_id) == [market["felt"].id]  # description
    assert _ids(conn, q="холодильник", shop_id=shop_id) == []


def test_kyrgyz_words_and_typos(conn: Conn, market: dict[str, Any]) -> None:
    shop_id = market["shop"].id
    assert _ids(conn, q="кийиз", shop_id=shop_id) == [market["felt"].id]
    assert _ids(conn, q="кийиз тапочка", shop_id=shop_id) == [market["felt"].id]
    # a typo, and one Latin "a" typed on the wrong keyboard layout
    assert _ids(conn, q="тапочкa кийз", shop_id=shop_id)[:1] == [market["felt"].id]
    assert _ids(conn, q="балы", shop_id=shop_id) == [market["honey"].id]
    assert _ids(conn, q="тоо балв", shop_id=shop_id)[:1] == [market["honey"].id]
    page = search_products(conn, SearchQuery(q="кийиз", shop_id=shop_id, lang="ky"))
    assert page.items[0].name == "Кийиз тапочка" and page.items[0].score > 0


def test_category_subtree_and_price_filters(conn: Conn, market: dict[str, Any]) -> None:
    shop_id = market["shop"].id
    assert set(_ids(conn, category_id=market["root"].id, shop_id=shop_id)) == {
        market["phone"].id, market["case"].id}
    assert _ids(conn, category_id=market["phones"].id) == [market["phone"].id]
    # a product matches when one variant is in range; its shown price is that variant's
    hits = search_products(conn, SearchQuery(
        shop_id=shop_id, price_min=Decimal("1000"), price_max=Decimal("12000.00"))).items
    assert {h.product_id: h.price_min for h in hits} == {
        market["phone"].id: Decimal("11900.00"), market["honey"].id: Decimal("1100.00")}
    assert _ids(conn, shop_id=shop_id, price_max=Decimal("350.00")) == [market["case"].id]
    assert set(_ids(conn, q="мёд", price_min=Decimal("500"), shop_id=shop_id)) == {
        market["honey"].id}


def test_distance_filter_and_order(conn: Conn) -> None:
    # a remote spot so that no other test's shops are near: Naryn
    near = _shop(conn, "41.428600", "75.991100", "Рядом")
    far = _shop(conn, "41.470000", "76.100000", "Дальше")  # about 10 km east
    p_near = _product(conn, near, "Шырдак", "Шырдак", "12900.00")
    p_far = _product(conn, far, "Шырдак большой", "Чоң шырдак", "34900.00")
    hits = search_products(conn, SearchQuery(lat=41.4286, lon=75.9911, radius_km=3)).items
    assert [h.product_id for h in hits] == [p_near.id]
    assert hits[0].distance_km is not None and hits[0].distance_km < 0.01
    hits = search_products(conn, SearchQuery(lat=41.4286, lon=75.9911, radius_km=20)).items
    assert [h.product_id for h in hits] == [p_near.id, p_far.id]
    assert hits[1].distance_km is not None and 8 < hits[1].distance_km < 12
    ranked = search_products(conn, SearchQuery(q="шырдак", lat=41.4286, lon=75.9911,
                                               radius_km=20)).items
    assert {h.product_id for h in ranked} == {p_near.id, p_far.id}


def test_paging_and_deleted_products(conn: Conn, market: dict[str, Any]) -> None:
    shop_id = market["shop"].id
    first = search_products(conn, SearchQuery(shop_id=shop_id, limit=3))
    second = search_products(conn, SearchQuery(shop_id=shop_id, limit=3, offset=3))
    assert first.has_more and not second.has_more
    assert len({h.product_id for h in first.items + second.items}) == 4
    catalog.delete_product(conn, market["honey"].id)
    assert _ids(conn, q="балы", shop_id=shop_id) == []


@pytest.mark.parametrize(("filters", "code"), [
    ({"price_min": Decimal("10"), "price_max": Decimal("5")},
     ErrorCode.SEARCH_PRICE_RANGE_INVALID),
    ({"lat": 42.87}, ErrorCode.SEARCH_POINT_INCOMPLETE),
    ({"lon": 74.59}, ErrorCode.SEARCH_POINT_INCOMPLETE),
    ({"radius_km": 5.0}, ErrorCode.SEARCH_RADIUS_WITHOUT_POINT),
    ({"lat": 42.87, "lon": 74.59, "radius_km": 0.0}, ErrorCode.SEARCH_INVALID_FILTER),
    ({"lat": 91.0, "lon": 74.59}, ErrorCode.SEARCH_INVALID_FILTER),
    ({"price_min": Decimal("-1")}, ErrorCode.SEARCH_INVALID_FILTER),
    ({"price_min": Decimal("1.001")}, ErrorCode.SEARCH_INVALID_FILTER),
    ({"limit": 0}, ErrorCode.SEARCH_INVALID_FILTER),
    ({"limit": 101}, ErrorCode.SEARCH_INVALID_FILTER),
    ({"lang": "de"}, ErrorCode.INVALID_LANGUAGE),
])
def test_bad_filters(conn: Conn, filters: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(ValidationError) as info:
        search_products(conn, SearchQuery(**filters))
    assert info.value.code == code
