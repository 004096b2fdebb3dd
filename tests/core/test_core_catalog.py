"""Catalog and POS services against a migrated database (each test rolls back)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.barcodes import ean13_with_check
from marketplace_core.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from marketplace_core.pos import service as pos

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]


def _shop(conn: Conn, name: str = "Тестовый магазин") -> catalog.Shop:
    merchant = catalog.create_merchant(conn, "ИП Тестов")
    return catalog.create_shop(
        conn, merchant.id, name, address="Ошский рынок, ряд 1", phone="+996 555 000 001",
        lat=Decimal("42.8746"), lon=Decimal("74.5697"), market="Osh")


def _product(conn: Conn, shop: catalog.Shop) -> catalog.Product:
    return catalog.create_product(conn, shop.id, "Курага", name_ky="Өрүк кагы")


def test_create_and_read_back(conn: Conn) -> None:
    shop = _shop(conn)
    assert shop.lat == Decimal("42.874600") and shop.payout_status == "active"
    root = catalog.create_category(conn, f"food-{uuid4().hex[:8]}", "Продукты", "Азык-түлүк")
    child = catalog.create_category(
        conn, f"dried-{uuid4().hex[:8]}", "Сухофрукты", "Кургатылган жемиштер",
        parent_id=root.id)
    product = catalog.create_product(
        conn, shop.id, "Курага", category_id=child.id, name_ky="Өрүк кагы",
        description_ru="Баткенская")
    variant = catalog.create_variant(
        conn, product.id, "OSH-1", Decimal("350"), barcode="4006381333931",
        attributes={"weight_g": 500}, stock_qty=40)
    assert variant.shop_id == shop.id
    assert variant.price == Decimal("350.00") and isinstance(variant.price, Decimal)
    assert str(variant.price) == "350.00"
    assert variant.attributes == {"weight_g": 500}
    assert catalog.get_variant(conn, variant.id) == variant
    assert catalog.get_variant_by_barcode(conn, shop.id, "4006381333931") == variant
    assert catalog.list_variants_for_shop(conn, shop.id) == [variant]
    assert catalog.get_category_by_slug(conn, child.slug) == child
    assert catalog.get_product(conn, product.id) == product
    assert catalog.get_variant(conn, uuid4()) is None


def test_explicit_ids_are_kept_and_duplicates_rejected(conn: Conn) -> None:
    mid = uuid4()
    assert catalog.create_merchant(conn, "ОсОО «Тест»", id=mid).id == mid
    with pytest.raises(ConflictError) as info:
        catalog.create_merchant(conn, "другой", id=mid)
    assert info.value.code == ErrorCode.DUPLICATE_ID


def test_duplicate_barcode_in_a_shop_is_rejected(conn: Conn) -> None:
    shop = _shop(conn)
    product = _product(conn, shop)
    first = catalog.create_variant(
        conn, product.id, "SKU-1", Decimal("350.00"), barcode="4700000000012")
    with pytest.raises(ConflictError) as info:
        catalog.create_variant(conn, product.id, "SKU-2", Decimal("390.00"),
                               barcode="4700000000012")
    assert info.value.code == ErrorCode.DUPLICATE_BARCODE == "DUPLICATE_BARCODE"
    assert isinstance(info.value, DomainError)
    # the caller's transaction is still usable and holds only the first variant
    assert catalog.list_variants_for_shop(conn, shop.id) == [first]
    # another product of the same shop cannot reuse it either
    other = catalog.create_product(conn, shop.id, "Изюм")
    with pytest.raises(ConflictError):
        catalog.create_variant(conn, other.id, "SKU-3", Decimal("1.00"),
                               barcode=" 4700000000012 ")


def test_same_barcode_in_another_shop_is_fine(conn: Conn) -> None:
    code = ean13_with_check("470123456789")
    a, b = _shop(conn, "A"), _shop(conn, "B")
    va = catalog.create_variant(conn, _product(conn, a).id, "X-1", Decimal("1499.00"),
                                barcode=code)
    vb = catalog.create_variant(conn, _product(conn, b).id, "X-1", Decimal("1499.00"),
                                barcode=code)
    assert va.barcode == vb.barcode == code and va.shop_id != vb.shop_id


def test_variants_without_barcode_do_not_collide(conn: Conn) -> None:
    product = _product(conn, _shop(conn))
    catalog.create_variant(conn, product.id, "NB-1", Decimal("10.00"))
    catalog.create_variant(conn, product.id, "NB-2", Decimal("10.00"))


def test_duplicate_sku_is_rejected(conn: Conn) -> None:
    product = _product(conn, _shop(conn))
    catalog.create_variant(conn, product.id, "SKU-1", Decimal("350.00"))
    with pytest.raises(ConflictError) as info:
        catalog.create_variant(conn, product.id, "SKU-1", Decimal("350.00"))
    assert info.value.code == ErrorCode.DUPLICATE_SKU


@pytest.mark.parametrize("barcode", ["4700000000013", "12345", "abcdefghijklm"])
def test_invalid_barcode_is_rejected(conn: Conn, barcode: str) -> None:
    product = _product(conn, _shop(conn))
    with pytest.raises(ValidationError) as info:
        catalog.create_variant(conn, product.id, "SKU-1", Decimal("350.00"), barcode=barcode)
    assert info.value.code == ErrorCode.INVALID_BARCODE


@pytest.mark.parametrize("price", [350.0, 350, Decimal("-1"), Decimal("1.005"),
                                   Decimal("NaN"), Decimal("10000000000")])
def test_bad_prices_are_rejected(conn: Conn, price: Any) -> None:
    product = _product(conn, _shop(conn))
    with pytest.raises(ValidationError) as info:
        catalog.create_variant(conn, product.id, "SKU-1", price)
    assert info.value.code == ErrorCode.INVALID_PRICE


@pytest.mark.parametrize("stock", [-1, 1.5, True])
def test_bad_stock_is_rejected(conn: Conn, stock: Any) -> None:
    product = _product(conn, _shop(conn))
    with pytest.raises(ValidationError) as info:
        catalog.create_variant(conn, product.id, "SKU-1", Decimal("1.00"), stock_qty=stock)
    assert info.value.code == ErrorCode.INVALID_STOCK


def test_database_enforces_money_and_stock_checks(conn: Conn) -> None:
    product = _product(conn, _shop(conn))
    for column, value in (("price", -1), ("stock_qty", -1)):
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute(
                "insert into product_variants (product_id, shop_id, sku, price, stock_qty)"
                " values (%s, %s, 'RAW', %s, %s)",
                (product.id, product.shop_id,
                 value if column == "price" else 1, value if column == "stock_qty" else 1))


def test_missing_references_are_domain_errors(conn: Conn) -> None:
    with pytest.raises(NotFoundError) as info:
        catalog.create_variant(conn, uuid4(), "SKU-1", Decimal("1.00"))
    assert info.value.code == ErrorCode.PRODUCT_NOT_FOUND
    with pytest.raises(NotFoundError) as info:
        catalog.create_shop(conn, uuid4(), "Без владельца")
    assert info.value.code == ErrorCode.MERCHANT_NOT_FOUND
    with pytest.raises(NotFoundError) as info:
        catalog.create_product(conn, uuid4(), "Сирота")
    assert info.value.code == ErrorCode.SHOP_NOT_FOUND


def test_duplicate_category_slug(conn: Conn) -> None:
    slug = f"toys-{uuid4().hex[:8]}"
    catalog.create_category(conn, slug, "Игрушки", "Оюнчуктар")
    with pytest.raises(ConflictError) as info:
        catalog.create_category(conn, slug, "Игрушки", "Оюнчуктар")
    assert info.value.code == ErrorCode.DUPLICATE_SLUG


def test_pos_devices(conn: Conn) -> None:
    shop = _shop(conn)
    device_id = f"POS-{uuid4().int % 10**8:08d}"
    device = pos.register_device(conn, device_id, shop.id, firmware_version="2.4.1")
    assert device.status == "active" and device.shop_id == shop.id
    assert pos.get_device(conn, device_id) == device
    assert pos.list_devices_for_shop(conn, shop.id) == [device]
    assert pos.get_device(conn, "POS-99999999999") is None
    with pytest.raises(ConflictError) as info:
        pos.register_device(conn, device_id, shop.id)
    assert info.value.code == ErrorCode.DUPLICATE_DEVICE
    with pytest.raises(NotFoundError) as missing:
        pos.register_device(conn, "POS-77777777777", uuid4())
    assert missing.value.code == ErrorCode.SHOP_NOT_FOUND
    for bad in ("pos-0001", "POS-1", "0001"):
        with pytest.raises(ValidationError) as invalid:
            pos.register_device(conn, bad, shop.id)
        assert invalid.value.code == ErrorCode.INVALID_DEVICE_ID
    assert pos.device_id_for(7) == "POS-0007"
