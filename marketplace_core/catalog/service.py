"""Catalog service: the only code that reads or writes the catalog tables.

Every function takes an open connection and runs in its own transaction block (a
savepoint when the caller already has a transaction), so a rejected change leaves the
caller's transaction usable. Rule violations raise `DomainError`s with stable codes.
Money is `decimal.Decimal` with at most 2 decimals (KGS); floats are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import errors as pg_errors
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from marketplace_core.catalog.barcodes import validate_barcode
from marketplace_core.db import Connection, violated_constraint
from marketplace_core.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)

MAX_PRICE = Decimal("9999999999.99")  # numeric(12,2)
MAX_STOCK = 2**31 - 1
_CENT = Decimal("0.01")
_MICRO_DEGREE = Decimal("0.000001")

PAYOUT_STATUSES = ("active", "inactive")


# --- records ------------------------------------------------------------------------


@dataclass(frozen=True)
class Merchant:
    id: UUID
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Shop:
    id: UUID
    merchant_id: UUID
    name: str
    address: str | None
    phone: str | None
    lat: Decimal | None
    lon: Decimal | None
    market: str | None
    payout_status: str
    created_at: datetime


@dataclass(frozen=True)
class Category:
    id: UUID
    parent_id: UUID | None
    slug: str
    name_ru: str
    name_ky: str


@dataclass(frozen=True)
class Product:
    id: UUID
    shop_id: UUID
    category_id: UUID | None
    name_ru: str
    name_ky: str | None
    description_ru: str | None
    created_at: datetime


@dataclass(frozen=True)
class Variant:
    id: UUID
    product_id: UUID
    shop_id: UUID
    sku: str
    barcode: str | None
    attributes: dict[str, Any]
    price: Decimal
    stock_qty: int
    updated_at: datetime


_MERCHANT_COLS = "id, name, created_at"
_SHOP_COLS = (
    "id, merchant_id, name, address, phone, lat, lon, market, payout_status, created_at"
)
_CATEGORY_COLS = "id, parent_id, slug, name_ru, name_ky"
_PRODUCT_COLS = "id, shop_id, category_id, name_ru, name_ky, description_ru, created_at"
_VARIANT_COLS = (
    "id, product_id, shop_id, sku, barcode, attributes, price, stock_qty, updated_at"
)

# integrity errors -> domain errors, by the constraint / index name in the migrations
_CONSTRAINT_ERRORS: dict[str, tuple[type[DomainError], ErrorCode, str]] = {
    "merchants_pkey": (ConflictError, ErrorCode.DUPLICATE_ID, "merchant id already exists"),
    "shops_pkey": (ConflictError, ErrorCode.DUPLICATE_ID, "shop id already exists"),
    "categories_pkey": (ConflictError, ErrorCode.DUPLICATE_ID, "category id already exists"),
    "products_pkey": (ConflictError, ErrorCode.DUPLICATE_ID, "product id already exists"),
    "product_variants_pkey": (
        ConflictError, ErrorCode.DUPLICATE_ID, "variant id already exists"),
    "categories_slug_key": (
        ConflictError, ErrorCode.DUPLICATE_SLUG, "category slug already exists"),
    "product_variants_shop_sku_key": (
        ConflictError, ErrorCode.DUPLICATE_SKU, "the shop already has a variant with this SKU"),
    "product_variants_shop_barcode_key": (
        ConflictError, ErrorCode.DUPLICATE_BARCODE,
        "the shop already has a variant with this barcode"),
    "shops_merchant_id_fkey": (
        NotFoundError, ErrorCode.MERCHANT_NOT_FOUND, "merchant does not exist"),
    "products_shop_id_fkey": (NotFoundError, ErrorCode.SHOP_NOT_FOUND, "shop does not exist"),
    "products_category_id_fkey": (
        NotFoundError, ErrorCode.CATEGORY_NOT_FOUND, "category does not exist"),
    "categories_parent_id_fkey": (
        NotFoundError, ErrorCode.CATEGORY_NOT_FOUND, "parent category does not exist"),
    "product_variants_product_fkey": (
        NotFoundError, ErrorCode.PRODUCT_NOT_FOUND, "product does not exist"),
}


def _insert(conn: Connection, record: type[Any], sql: str, params: dict[str, Any]) -> Any:
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(record)) as cur:
            row = cur.execute(sql.encode(), params).fetchone()
    except (pg_errors.UniqueViolation, pg_errors.ForeignKeyViolation) as exc:
        mapped = _CONSTRAINT_ERRORS.get(violated_constraint(exc) or "")
        if mapped is None:
            raise
        cls, code, text = mapped
        raise cls(code, text) from exc
    assert row is not None
    return row


def _fetch_one(conn: Connection, record: type[Any], sql: str, params: tuple[Any, ...]) -> Any:
    with conn.cursor(row_factory=class_row(record)) as cur:
        return cur.execute(sql.encode(), params).fetchone()


# --- validation ---------------------------------------------------------------------


def _require_text(value: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"{field} must be non-empty text")
    return value.strip()


def _coordinate(value: Decimal | None, field: str, limit: int) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or abs(value) > limit:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"{field} must be a Decimal within ±{limit}")
    return value.quantize(_MICRO_DEGREE)


def validate_price(price: Decimal) -> Decimal:
    """A KGS amount: a finite Decimal, >= 0, at most 2 decimals, fits numeric(12,2)."""
    if not isinstance(price, Decimal):
        raise ValidationError(
            ErrorCode.INVALID_PRICE, f"price must be a decimal.Decimal, got {type(price).__name__}")
    if not price.is_finite() or price < 0 or price > MAX_PRICE:
        raise ValidationError(ErrorCode.INVALID_PRICE, f"price out of range: {price}")
    if price != price.quantize(_CENT):
        raise ValidationError(ErrorCode.INVALID_PRICE, f"price has more than 2 decimals: {price}")
    return price.quantize(_CENT)


def _validate_stock(stock_qty: int) -> int:
    if isinstance(stock_qty, bool) or not isinstance(stock_qty, int):
        raise ValidationError(ErrorCode.INVALID_STOCK, "stock_qty must be an int")
    if not 0 <= stock_qty <= MAX_STOCK:
        raise ValidationError(ErrorCode.INVALID_STOCK, f"stock_qty out of range: {stock_qty}")
    return stock_qty


# --- merchants and shops ------------------------------------------------------------


def create_merchant(conn: Connection, name: str, *, id: UUID | None = None) -> Merchant:
    result: Merchant = _insert(
        conn, Merchant,
        f"insert into merchants (id, name) values (coalesce(%(id)s, gen_random_uuid()), "
        f"%(name)s) returning {_MERCHANT_COLS}",
        {"id": id, "name": _require_text(name, "name")},
    )
    return result


def get_merchant(conn: Connection, merchant_id: UUID) -> Merchant | None:
    row: Merchant | None = _fetch_one(
        conn, Merchant, f"select {_MERCHANT_COLS} from merchants where id = %s", (merchant_id,))
    return row


def create_shop(
    conn: Connection,
    merchant_id: UUID,
    name: str,
    *,
    address: str | None = None,
    phone: str | None = None,
    lat: Decimal | None = None,
    lon: Decimal | None = None,
    market: str | None = None,
    payout_status: str = "active",
    id: UUID | None = None,
) -> Shop:
    if payout_status not in PAYOUT_STATUSES:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"payout_status must be one of {PAYOUT_STATUSES}")
    result: Shop = _insert(
        conn, Shop,
        "insert into shops (id, merchant_id, name, address, phone, lat, lon, market,"
        " payout_status) values (coalesce(%(id)s, gen_random_uuid()), %(merchant_id)s,"
        " %(name)s, %(address)s, %(phone)s, %(lat)s, %(lon)s, %(market)s, %(payout_status)s)"
        f" returning {_SHOP_COLS}",
        {
            "id": id, "merchant_id": merchant_id, "name": _require_text(name, "name"),
            "address": address, "phone": phone,
            "lat": _coordinate(lat, "lat", 90), "lon": _coordinate(lon, "lon", 180),
            "market": market, "payout_status": payout_status,
        },
    )
    return result


def get_shop(conn: Connection, shop_id: UUID) -> Shop | None:
    row: Shop | None = _fetch_one(
        conn, Shop, f"select {_SHOP_COLS} from shops where id = %s", (shop_id,))
    return row


def list_shops(conn: Connection, *, merchant_id: UUID | None = None) -> list[Shop]:
    with conn.cursor(row_factory=class_row(Shop)) as cur:
        return cur.execute(
            f"select {_SHOP_COLS} from shops"
            " where %(m)s::uuid is null or merchant_id = %(m)s order by name, id".encode(),
            {"m": merchant_id},
        ).fetchall()


# --- categories -----------------------------------------------------------------------


def create_category(
    conn: Connection,
    slug: str,
    name_ru: str,
    name_ky: str,
    *,
    parent_id: UUID | None = None,
    id: UUID | None = None,
) -> Category:
    result: Category = _insert(
        conn, Category,
        "insert into categories (id, parent_id, slug, name_ru, name_ky) values"
        " (coalesce(%(id)s, gen_random_uuid()), %(parent_id)s, %(slug)s, %(name_ru)s,"
        f" %(name_ky)s) returning {_CATEGORY_COLS}",
        {
            "id": id, "parent_id": parent_id, "slug": _require_text(slug, "slug"),
            "name_ru": _require_text(name_ru, "name_ru"),
            "name_ky": _require_text(name_ky, "name_ky"),
        },
    )
    return result


def get_category(conn: Connection, category_id: UUID) -> Category | None:
    row: Category | None = _fetch_one(
        conn, Category, f"select {_CATEGORY_COLS} from categories where id = %s",
        (category_id,))
    return row


def get_category_by_slug(conn: Connection, slug: str) -> Category | None:
    row: Category | None = _fetch_one(
        conn, Category, f"select {_CATEGORY_COLS} from categories where slug = %s", (slug,))
    return row


# --- products and variants ------------------------------------------------------------


def create_product(
    conn: Connection,
    shop_id: UUID,
    name_ru: str,
    *,
    category_id: UUID | None = None,
    name_ky: str | None = None,
    description_ru: str | None = None,
    id: UUID | None = None,
) -> Product:
    result: Product = _insert(
        conn, Product,
        "insert into products (id, shop_id, category_id, name_ru, name_ky, description_ru)"
        " values (coalesce(%(id)s, gen_random_uuid()), %(shop_id)s, %(category_id)s,"
        f" %(name_ru)s, %(name_ky)s, %(description_ru)s) returning {_PRODUCT_COLS}",
        {
            "id": id, "shop_id": shop_id, "category_id": category_id,
            "name_ru": _require_text(name_ru, "name_ru"), "name_ky": name_ky,
            "description_ru": description_ru,
        },
    )
    return result


def get_product(conn: Connection, product_id: UUID) -> Product | None:
    row: Product | None = _fetch_one(
        conn, Product, f"select {_PRODUCT_COLS} from products where id = %s", (product_id,))
    return row


def create_variant(
    conn: Connection,
    product_id: UUID,
    sku: str,
    price: Decimal,
    *,
    barcode: str | None = None,
    attributes: dict[str, Any] | None = None,
    stock_qty: int = 0,
    id: UUID | None = None,
) -> Variant:
    """A sellable variant of a product, in the product's shop.

    Raises INVALID_BARCODE (not a valid EAN-13/EAN-8/UPC-A), INVALID_PRICE, INVALID_STOCK,
    PRODUCT_NOT_FOUND, DUPLICATE_BARCODE / DUPLICATE_SKU (already used in this shop).
    """
    sku = _require_text(sku, "sku")
    price = validate_price(price)
    stock_qty = _validate_stock(stock_qty)
    code = validate_barcode(barcode) if barcode is not None else None
    attrs = dict(attributes or {})
    product = get_product(conn, product_id)
    if product is None:
        raise NotFoundError(ErrorCode.PRODUCT_NOT_FOUND, f"product {product_id} does not exist")
    result: Variant = _insert(
        conn, Variant,
        "insert into product_variants (id, product_id, shop_id, sku, barcode, attributes,"
        " price, stock_qty) values (coalesce(%(id)s, gen_random_uuid()), %(product_id)s,"
        " %(shop_id)s, %(sku)s, %(barcode)s, %(attributes)s, %(price)s, %(stock_qty)s)"
        f" returning {_VARIANT_COLS}",
        {
            "id": id, "product_id": product_id, "shop_id": product.shop_id, "sku": sku,
            "barcode": code, "attributes": Jsonb(attrs), "price": price,
            "stock_qty": stock_qty,
        },
    )
    return result


def get_variant(conn: Connection, variant_id: UUID) -> Variant | None:
    row: Variant | None = _fetch_one(
        conn, Variant, f"select {_VARIANT_COLS} from product_variants where id = %s",
        (variant_id,))
    return row


def get_variant_by_barcode(conn: Connection, shop_id: UUID, barcode: str) -> Variant | None:
    """The shop's variant with this barcode (what a POS scan resolves to), if any."""
    row: Variant | None = _fetch_one(
        conn, Variant,
        f"select {_VARIANT_COLS} from product_variants where shop_id = %s and barcode = %s",
        (shop_id, barcode.strip()))
    return row


def list_variants_for_shop(conn: Connection, shop_id: UUID) -> list[Variant]:
    """All variants a shop sells, ordered by SKU."""
    with conn.cursor(row_factory=class_row(Variant)) as cur:
        return cur.execute(
            f"select {_VARIANT_COLS} from product_variants where shop_id = %s"
            " order by sku, id".encode(),
            (shop_id,),
        ).fetchall()


__all__ = [
    "Category", "Merchant", "Product", "Shop", "Variant", "create_category",
    "create_merchant", "create_product", "create_shop", "create_variant", "get_category",
    "get_category_by_slug", "get_merchant", "get_product", "get_shop", "get_variant",
    "get_variant_by_barcode", "list_shops", "list_variants_for_shop", "validate_price",
]
