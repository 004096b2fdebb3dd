"""Bulk import: good CSV and XLSX files upsert by SKU; a bad file imports nothing and
reports every problem by row and column."""

from __future__ import annotations

import io
import json
import secrets
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from openpyxl import Workbook

from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.barcodes import ean13_with_check
from marketplace_core.catalog.imports import MAX_FILE_BYTES, ImportRejected, import_products
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.outbox.writer import decode
from schemas.topics import CORE_VARIANTS
from tests.core.auth_helpers import make_seller_with_shop, make_user

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[Any]


def _shop(conn: Conn) -> catalog.Shop:
    merchant = catalog.create_merchant(conn, "ИП Импорт")
    return catalog.create_shop(conn, merchant.id, "Склад")


def _category(conn: Conn) -> str:
    slug = f"dried-{uuid4().hex[:8]}"
    catalog.create_category(conn, slug, "Сухофрукты", "Кургатылган жемиштер")
    return slug


def _csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    return "\n".join(delimiter.join(r) for r in rows).encode()


def _count(conn: Conn, shop_id: UUID) -> tuple[int, int, int]:
    row = conn.execute(
        "select (select count(*) from products where shop_id = %(s)s),"
        " (select count(*) from product_variants where shop_id = %(s)s),"
        " (select count(*) from outbox)", {"s": shop_id}).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


HEADER = ["sku", "product_ref", "name_ru", "name_ky", "description_ru", "category_slug",
          "price", "stock_qty", "barcode", "attr_weight_g"]


def test_good_csv_creates_then_upserts(conn: Conn) -> None:
    shop = _shop(conn)
    slug = _category(conn)
    code = ean13_with_check("470123400001")
    first = _csv([
        HEADER,
        ["KUR-500", "KUR", "Курага", "Өрүк кагы", "Баткенская", slug, "350", "40", code, "500"],
        ["KUR-1000", "KUR", "Курага", "", "", "", "\"650,50\"", "12", "", "1000"],
        ["IZ-500", "", "Изюм", "Мейиз", "", slug, "250.00", "", "", "500"],
        ["", "", "", "", "", "", "", "", "", ""],  # blank lines are skipped
    ])
    result = import_products(conn, shop.id, "prices.csv", first)
    assert (result.rows, result.products_created, result.variants_created) == (3, 2, 3)
    variants = {v.sku: v for v in catalog.list_variants_for_shop(conn, shop.id)}
    assert variants["KUR-500"].product_id == variants["KUR-1000"].product_id
    assert variants["KUR-1000"].price == Decimal("650.50")
    assert variants["KUR-500"].barcode == code and variants["KUR-500"].stock_qty == 40
    assert variants["IZ-500"].stock_qty == 0 and variants["IZ-500"].attributes == {
        "weight_g": "500"}
    product = catalog.get_product(conn, variants["KUR-500"].product_id)
    assert product is not None and product.external_ref == "KUR"
    assert (product.name_ky, product.description_ru) == ("Өрүк кагы", "Баткенская")

    # the same SKUs again, semicolon-separated with a BOM: updates, nothing duplicated
    second = b"\xef\xbb\xbf" + _csv([
        ["sku", "name_ru", "price", "stock_qty", "name_en"],
        ["KUR-500", "Курага", "399.90", "35", "Dried apricots"],
        ["IZ-500", "Изюм", "250.00", "", ""],
        ["NEW-1", "Орехи", "450", "5", ""],
    ], ";")
    result = import_products(conn, shop.id, "prices.csv", second)
    assert (result.products_created, result.products_updated) == (1, 1)
    assert (result.variants_created, result.variants_updated, result.variants_unchanged) == (
        1, 1, 1)
    kur = catalog.get_variant(conn, variants["KUR-500"].id)
    assert kur is not None and (kur.price, kur.stock_qty) == (Decimal("399.90"), 35)
    rows = conn.execute("select payload from outbox where entity_id = %s order by id",
                        (str(kur.id),)).fetchall()
    events = [decode(CORE_VARIANTS, r[0]) for r in rows]
    assert [e["event_type"] for e in events] == [
        "variant.created", "variant.price_changed", "variant.stock_changed"]
    assert events[1]["price"] == Decimal("399.90")
    assert (events[2]["stock_delta"], events[2]["reason"]) == (-5, "import")
    renamed = catalog.get_product(conn, kur.product_id)
    assert renamed is not None and renamed.name_en == "Dried apricots"


def test_good_xlsx_with_numeric_cells(conn: Conn) -> None:
    shop = _shop(conn)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["SKU", "Name_RU", "price", "stock_qty", "barcode", "attr_size", "attr_color"])
    sheet.append(["TSH-M", "Футболка", 1250.5, 5.0, int(ean13_with_check("470123400002")),
                  "M", "синий"])
    sheet.append(["TSH-L", "Футболка L", 990, 3, None, "L", None])
    buffer = io.BytesIO()
    book.save(buffer)
    result = import_products(conn, shop.id, "Товары.XLSX", buffer.getvalue())
    assert (result.rows, result.variants_created) == (2, 2)
    variants = {v.sku: v for v in catalog.list_variants_for_shop(conn, shop.id)}
    assert variants["TSH-M"].price == Decimal("1250.50") and variants["TSH-M"].stock_qty == 5
    assert variants["TSH-M"].barcode == ean13_with_check("470123400002")
    assert variants["TSH-M"].attributes == {"size": "M", "color": "синий"}
    assert variants["TSH-L"].attributes == {"size": "L"}


def test_bad_file_imports_nothing_and_reports_every_row(conn: Conn) -> None:
    shop = _shop(conn)
    slug = _category(conn)
    taken = ean13_with_check("470123400003")
    existing = catalog.create_product(conn, shop.id, "Уже есть")
    catalog.create_variant(conn, existing.id, "OLD-1", Decimal("10.00"), barcode=taken)
    before = _count(conn, shop.id)
    data = _csv([
        ["sku", "name_ru", "price", "stock_qty", "barcode", "category_slug"],
        ["A-1", "Хорошая строка", "100.00", "1", "", slug],
        ["A-2", "Цена", "12.345", "1", "", ""],
        ["A-3", "Штрихкод", "10", "1", "4700000000013", ""],
        ["A-1", "Повтор", "10", "1", "", ""],
        ["A-4", "Категория", "10", "1", "", "no-such-category"],
        ["A-5", "", "10", "-2", "", ""],
        ["A-6", "Чужой код", "10", "1", taken, ""],
        ["A-7", "Float", "0.30000000000000004", "1", "", ""],
    ])
    with pytest.raises(ImportRejected) as info:
        import_products(conn, shop.id, "bad.csv", data)
    assert info.value.code == ErrorCode.IMPORT_REJECTED
    assert {(d["row"], d["column"], d["code"]) for d in info.value.details} == {
        (3, "price", "INVALID_PRICE"),
        (4, "barcode", "INVALID_BARCODE"),
        (5, "sku", "DUPLICATE_SKU"),
        (6, "category_slug", "CATEGORY_NOT_FOUND"),
        (7, "name_ru", "MISSING_VALUE"),
        (7, "stock_qty", "INVALID_STOCK"),
        (8, "barcode", "DUPLICATE_BARCODE"),
        (9, "price", "INVALID_PRICE"),
    }
    assert all(d["message"] for d in info.value.details)
    assert _count(conn, shop.id) == before  # nothing written, no event either


@pytest.mark.parametrize(("filename", "data", "code"), [
    ("x.csv", _csv([["sku", "price"], ["A", "1"]]), "MISSING_COLUMN"),
    ("x.csv", _csv([["sku", "name_ru", "price", "colour"], ["A", "Б", "1", "red"]]),
     "UNKNOWN_COLUMN"),
    ("x.csv", "sku,name_ru,price\nA,Курага,350\n".encode("cp1251"), "INVALID_ENCODING"),
    ("x.csv", b"", "IMPORT_EMPTY"),
    ("x.csv", _csv([["sku", "name_ru", "price"]]), "IMPORT_EMPTY"),
    ("x.xlsx", b"PK\x03\x04 not really a workbook", "INVALID_FILE"),
])
def test_unreadable_files_are_rejected(conn: Conn, filename: str, data: bytes, code: str) -> None:
    shop = _shop(conn)
    with pytest.raises(ImportRejected) as info:
        import_products(conn, shop.id, filename, data)
    assert code in {d["code"] for d in info.value.details}


def test_file_type_and_size(conn: Conn) -> None:
    shop = _shop(conn)
    with pytest.raises(ValidationError) as info:
        import_products(conn, shop.id, "x.xls", b"whatever")
    assert info.value.code == ErrorCode.UNSUPPORTED_FILE_TYPE
    with pytest.raises(ValidationError) as info:
        import_products(conn, shop.id, "x.csv", b"a" * (MAX_FILE_BYTES + 1))
    assert info.value.code == ErrorCode.FILE_TOO_LARGE


# --- over HTTP ----------------------------------------------------------------------------


def test_import_over_http(core_api: Any) -> None:
    seller, _, shop_id = make_seller_with_shop(core_api)
    sku = f"API-{secrets.token_hex(4)}"
    good = _csv([["sku", "name_ru", "price", "stock_qty", "attr_size"],
                 [sku, "Платок шёлковый", "450.00", "8", "S"]])
    result = core_api.post(f"/shops/{shop_id}/imports", headers=seller.headers,
                           files={"file": ("platki.csv", good, "text/csv")})
    assert result.status_code == 200, result.text
    assert result.json() == {"rows": 1, "products_created": 1, "products_updated": 0,
                             "variants_created": 1, "variants_updated": 0,
                             "variants_unchanged": 0}

    bad = _csv([["sku", "name_ru", "price"], ["B-1", "Платок", "4.5.0"]])
    rejected = core_api.post(f"/shops/{shop_id}/imports", headers=seller.headers,
                             files={"file": ("bad.csv", bad, "text/csv")})
    assert rejected.status_code == 422, rejected.text
    error = rejected.json()["error"]
    assert error["code"] == "IMPORT_REJECTED"
    assert error["details"] == [{"row": 2, "column": "price", "code": "INVALID_PRICE",
                                 "message": error["details"][0]["message"]}]

    stranger = make_user(core_api, "seller")
    denied = core_api.post(f"/shops/{shop_id}/imports", headers=stranger.headers,
                           files={"file": ("platki.csv", good, "text/csv")})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "FORBIDDEN"
    wrong_type = core_api.post(f"/shops/{shop_id}/imports", headers=seller.headers,
                               files={"file": ("platki.txt", good, "text/plain")})
    assert wrong_type.json()["error"]["code"] == "UNSUPPORTED_FILE_TYPE"
    too_big = core_api.post(f"/shops/{shop_id}/imports", headers=seller.headers,
                            files={"file": ("big.csv", b"x" * (MAX_FILE_BYTES + 1), "text/csv")})
    assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "FILE_TOO_LARGE"
    missing = core_api.post(f"/shops/{shop_id}/imports", headers=seller.headers)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "INVALID_REQUEST"

    card = core_api.get("/search/products", params={"q": "платок", "shop_id": str(shop_id)})
    assert [i["price_min"] for i in card.json()["items"]] == ["450.00"]
    with core_api.app.state.pool.connection() as conn:
        details = conn.execute(
            "select details from audit_log where entity_id = %s and action = 'catalog.import'",
            (str(shop_id),)).fetchone()
    assert details is not None and json.loads(json.dumps(details[0]))["variants_created"] == 1
