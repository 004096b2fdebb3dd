"""Catalog extensions against a real database (each test rolls back): translations,
category tree, QR codes, soft delete, bundles and the outbox events of every change."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from marketplace_core.catalog import bundles
from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.bundles import BundleItem
from marketplace_core.catalog.events import emit_variant_changed
from marketplace_core.catalog.translations import choose_language, language_from_accept
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from marketplace_core.outbox.writer import decode
from schemas.topics import CORE_PRODUCTS, CORE_VARIANTS, Topic

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]
TOPICS = {t.name: t for t in (CORE_PRODUCTS, CORE_VARIANTS)}


def _shop(conn: Conn) -> catalog.Shop:
    merchant = catalog.create_merchant(conn, "ИП Тестова")
    return catalog.create_shop(
        conn, merchant.id, "Тест", address="Дордой, контейнер 7", phone="+996 555 000 002",
        lat=Decimal("42.9390"), lon=Decimal("74.6210"), market="Dordoi")


def _events(conn: Conn, entity_id: UUID) -> list[dict[str, Any]]:
    rows = conn.execute(
        "select topic, payload from outbox where entity_id = %s order by id",
        (str(entity_id),)).fetchall()
    topic: Topic
    out = []
    for name, payload in rows:
        topic = TOPICS[name]
        out.append(decode(topic, payload))
    return out


def _slug(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:10]}"


# --- translations ----------------------------------------------------------------------


def test_product_translations_and_card_fallback(conn: Conn) -> None:
    shop = _shop(conn)
    product = catalog.create_product(
        conn, shop.id, "Курага", name_ky="Өрүк кагы", names={"en": "Dried apricots"},
        descriptions={"ru": "Баткенская", "en": "From Batken"})
    assert product.names == {"ru": "Курага", "ky": "Өрүк кагы", "en": "Dried apricots",
                             "zh": None, "kk": None, "uz": None}
    catalog.create_variant(conn, product.id, "K-1", Decimal("350.00"))
    ky = catalog.get_product_card(conn, product.id, "ky")
    assert ky is not None and ky.name == "Өрүк кагы"
    assert ky.description == "Баткенская"  # no Kyrgyz description: Russian fallback
    en = catalog.get_product_card(conn, product.id, "en")
    assert en is not None and (en.name, en.description) == ("Dried apricots", "From Batken")
    zh = catalog.get_product_card(conn, product.id, "zh")
    assert zh is not None and zh.name == "Курага"
    # the spec's codes are understood too
    kg = catalog.get_product_card(conn, product.id, "kg")
    assert kg is not None and kg.lang == "ky"
    with pytest.raises(ValidationError) as info:
        catalog.get_product_card(conn, product.id, "fr")
    assert info.value.code == ErrorCode.INVALID_LANGUAGE


def test_language_choice() -> None:
    assert language_from_accept("ky-KG,ky;q=0.9,ru;q=0.8") == "ky"
    assert language_from_accept("fr-FR,en;q=0.5,ru;q=0.7") == "ru"
    assert language_from_accept("de, *") == "ru"
    assert language_from_accept(None) == "ru"
    assert choose_language("en", "ky") == "en"
    assert choose_language(None, "uz;q=1") == "uz"


def test_russian_name_is_required_and_kept(conn: Conn) -> None:
    shop = _shop(conn)
    with pytest.raises(ValidationError) as info:
        catalog.create_product(conn, shop.id, "   ")
    assert info.value.code == ErrorCode.TRANSLATION_REQUIRED
    with pytest.raises(ValidationError) as info:
        catalog.create_product(conn, shop.id, "Изюм", names={"fr": "Raisins"})
    assert info.value.code == ErrorCode.INVALID_LANGUAGE
    product = catalog.create_product(conn, shop.id, "Изюм", name_ky="Мейиз")
    with pytest.raises(ValidationError) as info:
        catalog.update_product(conn, product.id, names={"ru": None})
    assert info.value.code == ErrorCode.TRANSLATION_REQUIRED
    updated = catalog.update_product(conn, product.id, names={"ky": None, "kk": "Мейіз"})
    assert (updated.name_ru, updated.name_ky, updated.name_kk) == ("Изюм", None, "Мейіз")


# --- categories ------------------------------------------------------------------------


def test_category_tree_move_and_cycle(conn: Conn) -> None:
    root = catalog.create_category(conn, _slug("root"), "Одежда", "Кийим",
                                   names={"en": "Clothing"})
    child = catalog.create_category(conn, _slug("child"), "Женская", parent_id=root.id)
    grandchild = catalog.create_category(conn, _slug("gc"), "Платья", parent_id=child.id)
    assert child.name_ky is None and root.name_en == "Clothing"
    assert [c.id for c in catalog.category_path(conn, grandchild.id)] == [
        root.id, child.id, grandchild.id]
    assert set(catalog.category_subtree_ids(conn, root.id)) == {root.id, child.id, grandchild.id}

    for new_parent in (grandchild.id, child.id, root.id):
        with pytest.raises(ConflictError) as info:
            catalog.update_category(conn, root.id, parent_id=new_parent)
        assert info.value.code == ErrorCode.CATEGORY_CYCLE
    moved = catalog.update_category(conn, grandchild.id, parent_id=root.id,
                                    names={"ky": "Көйнөктөр"})
    assert moved.parent_id == root.id and moved.name_ky == "Көйнөктөр"
    rooted = catalog.update_category(conn, child.id, parent_id=None)
    assert rooted.parent_id is None
    tree = {n.category.id: n for n in catalog.category_tree(conn)}
    assert [c.category.id for c in tree[root.id].children] == [grandchild.id]
    with pytest.raises(NotFoundError) as missing:
        catalog.update_category(conn, child.id, parent_id=uuid4())
    assert missing.value.code == ErrorCode.CATEGORY_NOT_FOUND
    with pytest.raises(NotFoundError):
        catalog.update_category(conn, uuid4(), sort_order=3)
    with pytest.raises(ValidationError):
        catalog.create_category(conn, "Bad Slug!", "Плохо")


# --- variants: codes, duplicates, changes ------------------------------------------------


def test_barcode_and_qr_codes(conn: Conn) -> None:
    shop = _shop(conn)
    product = catalog.create_product(conn, shop.id, "Чай")
    ean8 = catalog.create_variant(conn, product.id, "T-1", Decimal("190.00"), barcode="96385074")
    upca = catalog.create_variant(conn, product.id, "T-2", Decimal("190.00"),
                                  barcode="036000291452")
    qr = catalog.create_variant(conn, product.id, "T-3", Decimal("220.00"),
                                qr_code="https://bazaar.kg/p/T-3?batch=7")
    assert (ean8.barcode, upca.barcode, qr.barcode) == ("96385074", "036000291452", None)
    assert catalog.get_variant_by_qr_code(conn, shop.id, "https://bazaar.kg/p/T-3?batch=7") == qr
    with pytest.raises(ConflictError) as dup:
        catalog.create_variant(conn, product.id, "T-4", Decimal("1.00"),
                               qr_code=" https://bazaar.kg/p/T-3?batch=7 ")
    assert dup.value.code == ErrorCode.DUPLICATE_BARCODE
    with pytest.raises(ConflictError) as dup:
        catalog.create_variant(conn, product.id, "T-5", Decimal("1.00"), barcode="96385074")
    assert dup.value.code == ErrorCode.DUPLICATE_BARCODE
    for bad in ("96385075", "036000291453", "4700000000013"):
        with pytest.raises(ValidationError) as info:
            catalog.create_variant(conn, product.id, "T-6", Decimal("1.00"), barcode=bad)
        assert info.value.code == ErrorCode.INVALID_BARCODE
    for bad_qr in ("", "   ", "line\nbreak", "x" * 2049):
        with pytest.raises(ValidationError) as info:
            catalog.create_variant(conn, product.id, "T-7", Decimal("1.00"), qr_code=bad_qr)
        assert info.value.code == ErrorCode.INVALID_QR_CODE
    with pytest.raises(ConflictError) as conflict:
        catalog.update_variant(conn, upca.id, barcode="96385074")
    assert conflict.value.code == ErrorCode.DUPLICATE_BARCODE
    with pytest.raises(ConflictError) as conflict:
        catalog.update_variant(conn, upca.id, sku="T-1")
    assert conflict.value.code == ErrorCode.DUPLICATE_SKU


def test_variant_events_carry_exact_prices_and_stock_moves(conn: Conn) -> None:
    shop = _shop(conn)
    product = catalog.create_product(conn, shop.id, "Мёд белый", name_ky="Ак бал",
                                     descriptions={"ru": "Иссык-Куль"})
    variant = catalog.create_variant(
        conn, product.id, "H-1", Decimal("1100.10"), barcode="4700001001018",
        attributes={"weight_g": 1000}, stock_qty=5)
    catalog.update_variant(conn, variant.id, price=Decimal("1199.99"))
    catalog.update_variant(conn, variant.id, attributes={"weight_g": 1000, "sort": "белый"})
    catalog.update_variant(conn, variant.id, price=Decimal("1199.99"))  # no change: no event
    catalog.set_variant_stock(conn, variant.id, 12)
    catalog.set_variant_stock(conn, variant.id, 12)  # no change: no event
    events = _events(conn, variant.id)
    assert [e["event_type"] for e in events] == [
        "variant.created", "variant.price_changed", "variant.updated", "variant.stock_changed"]
    created, priced, updated, stocked = events
    assert created["price"] == Decimal("1100.10") and isinstance(created["price"], Decimal)
    assert created["barcode"] == "4700001001018" and created["stock_qty"] == 5
    assert json.loads(created["attributes_json"]) == {"weight_g": 1000}
    assert created["shop_id"] == shop.id and created["product_id"] == product.id
    assert priced["price"] == Decimal("1199.99") and priced["stock_delta"] == 0
    assert json.loads(updated["attributes_json"])["sort"] == "белый"
    assert (stocked["stock_qty"], stocked["stock_delta"], stocked["reason"]) == (12, 7, "manual")

    product_events = _events(conn, product.id)
    assert [e["event_type"] for e in product_events] == ["product.created"]
    p = product_events[0]
    assert (p["name_ru"], p["name_ky"], p["description_ru"], p["merchant_id"]) == (
        "Мёд белый", "Ак бал", "Иссык-Куль", shop.merchant_id)
    # the orders helper's hook: any reason from the list, with its delta
    emit_variant_changed(conn, variant.id, "variant.stock_changed", stock_delta=-2,
                         reason="reservation")
    assert _events(conn, variant.id)[-1]["reason"] == "reservation"


def test_soft_delete_frees_codes_and_emits(conn: Conn) -> None:
    shop = _shop(conn)
    product = catalog.create_product(conn, shop.id, "Шампунь")
    variant = catalog.create_variant(conn, product.id, "S-1", Decimal("450.00"),
                                     barcode="4700001001018")
    deleted = catalog.delete_product(conn, product.id)
    assert deleted.is_deleted
    gone = catalog.get_variant(conn, variant.id)
    assert gone is not None and gone.is_deleted
    assert catalog.get_product_card(conn, product.id) is None
    assert catalog.get_variant_by_barcode(conn, shop.id, "4700001001018") is None
    assert [e["event_type"] for e in _events(conn, variant.id)][-1] == "variant.deleted"
    last = _events(conn, product.id)[-1]
    assert last["event_type"] == "product.deleted" and last["is_deleted"] is True
    with pytest.raises(NotFoundError) as info:
        catalog.delete_product(conn, product.id)
    assert info.value.code == ErrorCode.PRODUCT_NOT_FOUND
    with pytest.raises(NotFoundError) as info:
        catalog.create_variant(conn, product.id, "S-2", Decimal("1.00"))
    assert info.value.code == ErrorCode.PRODUCT_NOT_FOUND
    with pytest.raises(NotFoundError) as info:
        catalog.set_variant_stock(conn, variant.id, 3)
    assert info.value.code == ErrorCode.VARIANT_NOT_FOUND
    # the SKU and barcode are free again
    again = catalog.create_product(conn, shop.id, "Шампунь")
    catalog.create_variant(conn, again.id, "S-1", Decimal("450.00"), barcode="4700001001018")


# --- bundles -----------------------------------------------------------------------------


def test_bundle_availability_and_rules(conn: Conn) -> None:
    shop = _shop(conn)
    tea = catalog.create_product(conn, shop.id, "Чай зелёный")
    tea_v = catalog.create_variant(conn, tea.id, "B-TEA", Decimal("190.00"), stock_qty=10)
    honey = catalog.create_product(conn, shop.id, "Мёд")
    honey_v = catalog.create_variant(conn, honey.id, "B-HONEY", Decimal("600.00"), stock_qty=7)
    gift = catalog.create_product(
        conn, shop.id, "Подарочный набор", name_ky="Белек топтому",
        bundle_items=[BundleItem(tea_v.id, 2), BundleItem(honey_v.id, 1)])
    gift_v = catalog.create_variant(conn, gift.id, "B-GIFT", Decimal("899.00"))
    assert gift.is_bundle and bundles.availability(conn, gift.id) == 5  # min(10//2, 7//1)
    card = catalog.get_product_card(conn, gift.id, "ky")
    assert card is not None and card.is_bundle
    assert card.variants[0].stock_qty == 5 and card.variants[0].price == Decimal("899.00")
    assert {(i.sku, i.quantity) for i in card.bundle_items} == {("B-TEA", 2), ("B-HONEY", 1)}
    assert [i.variant_id for i in bundles.bundle_components(conn, gift_v.id)] == sorted(
        [tea_v.id, honey_v.id])
    assert bundles.bundle_components(conn, tea_v.id) == []
    event = _events(conn, gift.id)[0]
    assert event["is_bundle"] and {i["quantity"] for i in event["bundle_items"]} == {1, 2}

    catalog.set_variant_stock(conn, honey_v.id, 2)
    assert bundles.availability(conn, gift.id) == 2
    with pytest.raises(ConflictError) as info:
        catalog.create_variant(conn, gift.id, "B-GIFT-2", Decimal("1.00"))
    assert info.value.code == ErrorCode.BUNDLE_SINGLE_VARIANT
    with pytest.raises(ConflictError) as info:
        catalog.set_variant_stock(conn, gift_v.id, 3)
    assert info.value.code == ErrorCode.BUNDLE_STOCK_DERIVED
    with pytest.raises(ConflictError) as info:
        catalog.delete_variant(conn, honey_v.id)
    assert info.value.code == ErrorCode.VARIANT_IN_BUNDLE
    with pytest.raises(ConflictError):
        catalog.delete_product(conn, tea.id)

    other_shop = _shop(conn)
    foreign = catalog.create_variant(
        conn, catalog.create_product(conn, other_shop.id, "Чужое").id, "F-1", Decimal("1.00"))
    for items in ([], [BundleItem(foreign.id, 1)], [BundleItem(gift_v.id, 1)],
                  [BundleItem(tea_v.id, 0)], [BundleItem(tea_v.id, 1), BundleItem(tea_v.id, 2)]):
        with pytest.raises(ValidationError) as invalid:
            catalog.create_product(conn, shop.id, "Плохой набор", bundle_items=items)
        assert invalid.value.code == ErrorCode.INVALID_BUNDLE
    # new content: availability follows, the bundle's variant is republished
    catalog.update_product(conn, gift.id, bundle_items=[BundleItem(tea_v.id, 3)])
    assert bundles.availability(conn, gift.id) == 3
    assert _events(conn, gift_v.id)[-1]["stock_qty"] == 3
    catalog.delete_variant(conn, honey_v.id)  # no longer in a bundle
    catalog.delete_product(conn, gift.id)
    catalog.delete_product(conn, tea.id)  # the bundle that held it is gone
