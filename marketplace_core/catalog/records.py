"""The catalog's records (merchant, shop, category, product, variant), their columns, input
validation, and the row helpers its aggregates share (`merchants`, `shops`, `categories`,
`products`, `variants`; `service` re-exports them all)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final
from uuid import UUID

from psycopg import errors as pg_errors
from psycopg.rows import class_row

from marketplace_core.catalog import bundles
from marketplace_core.catalog.barcodes import validate_barcode
from marketplace_core.catalog.translations import LANGUAGES, Texts
from marketplace_core.db import Connection, violated_constraint
from marketplace_core.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from platform_common.money import MAX_AMOUNT, is_whole_cents, to_cents_half_even

MAX_PRICE = MAX_AMOUNT  # numeric(12,2)
MAX_STOCK = 2**31 - 1
MAX_SKU_LENGTH = 64
MAX_QR_LENGTH = 2048
MAX_ATTRIBUTES = 50
_MICRO_DEGREE = Decimal("0.000001")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
# serialises category moves, so two concurrent moves cannot build a cycle together
_CATEGORY_TREE_LOCK = 0x63617465676F7279

PAYOUT_STATUSES = ("active", "inactive")


class _Unset(Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET
"""'Leave as it is' for optional arguments where None means 'clear'."""



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
    name_ky: str | None
    name_en: str | None = None
    name_zh: str | None = None
    name_kk: str | None = None
    name_uz: str | None = None
    sort_order: int = 0

    @property
    def names(self) -> Texts:
        return {lang: getattr(self, f"name_{lang}") for lang in LANGUAGES}


@dataclass(frozen=True)
class CategoryNode:
    category: Category
    children: list[CategoryNode] = field(default_factory=list)


@dataclass(frozen=True)
class Product:
    id: UUID
    shop_id: UUID
    category_id: UUID | None
    name_ru: str
    name_ky: str | None
    description_ru: str | None
    created_at: datetime
    name_en: str | None = None
    name_zh: str | None = None
    name_kk: str | None = None
    name_uz: str | None = None
    description_ky: str | None = None
    description_en: str | None = None
    description_zh: str | None = None
    description_kk: str | None = None
    description_uz: str | None = None
    is_bundle: bool = False
    external_ref: str | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def names(self) -> Texts:
        return {lang: getattr(self, f"name_{lang}") for lang in LANGUAGES}

    @property
    def descriptions(self) -> Texts:
        return {lang: getattr(self, f"description_{lang}") for lang in LANGUAGES}

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


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
    qr_code: str | None = None
    deleted_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


_NAME_COLS = ", ".join(f"name_{lang}" for lang in LANGUAGES)
_DESCRIPTION_COLS = ", ".join(f"description_{lang}" for lang in LANGUAGES)
_MERCHANT_COLS = "id, name, created_at"
_SHOP_COLS = (
    "id, merchant_id, name, address, phone, lat, lon, market, payout_status, created_at"
)
_CATEGORY_COLS = f"id, parent_id, slug, {_NAME_COLS}, sort_order"
_PRODUCT_COLS = (
    f"id, shop_id, category_id, {_NAME_COLS}, {_DESCRIPTION_COLS}, created_at, is_bundle,"
    " external_ref, updated_at, deleted_at"
)
_VARIANT_COLS = (
    "id, product_id, shop_id, sku, barcode, attributes, price, stock_qty, updated_at,"
    " qr_code, deleted_at"
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
    "product_variants_shop_qr_code_key": (
        ConflictError, ErrorCode.DUPLICATE_BARCODE,
        "the shop already has a variant with this QR code"),
    "products_shop_external_ref_key": (
        ConflictError, ErrorCode.DUPLICATE_PRODUCT_REF,
        "the shop already has a product with this product_ref"),
    "shops_merchant_id_fkey": (
        NotFoundError, ErrorCode.MERCHANT_NOT_FOUND, "merchant does not exist"),
    "products_shop_id_fkey": (NotFoundError, ErrorCode.SHOP_NOT_FOUND, "shop does not exist"),
    "products_category_id_fkey": (
        NotFoundError, ErrorCode.CATEGORY_NOT_FOUND, "category does not exist"),
    "categories_parent_id_fkey": (
        NotFoundError, ErrorCode.CATEGORY_NOT_FOUND, "parent category does not exist"),
    "product_variants_product_fkey": (
        NotFoundError, ErrorCode.PRODUCT_NOT_FOUND, "product does not exist"),
    "bundle_items_component_fkey": (
        ValidationError, ErrorCode.INVALID_BUNDLE,
        "bundle components must be variants of the same shop"),
}


def _write(conn: Connection, record: type[Any], sql: str, params: dict[str, Any]) -> Any:
    """Run one INSERT/UPDATE ... RETURNING in a savepoint; integrity errors → domain errors."""
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(record)) as cur:
            row = cur.execute(sql.encode(), params).fetchone()
    except (pg_errors.UniqueViolation, pg_errors.ForeignKeyViolation) as exc:
        mapped = _CONSTRAINT_ERRORS.get(violated_constraint(exc) or "")
        if mapped is None:
            raise
        cls, code, text = mapped
        raise cls(code, text) from exc
    return row


def _insert(conn: Connection, record: type[Any], sql: str, params: dict[str, Any]) -> Any:
    row = _write(conn, record, sql, params)
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


def _optional_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"{field} must be text")
    return value.strip() or None


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
    if not is_whole_cents(price):
        raise ValidationError(ErrorCode.INVALID_PRICE, f"price has more than 2 decimals: {price}")
    return to_cents_half_even(price)


def validate_stock(stock_qty: int) -> int:
    """A stock quantity: an int in 0..2^31-1."""
    if isinstance(stock_qty, bool) or not isinstance(stock_qty, int):
        raise ValidationError(ErrorCode.INVALID_STOCK, "stock_qty must be an int")
    if not 0 <= stock_qty <= MAX_STOCK:
        raise ValidationError(ErrorCode.INVALID_STOCK, f"stock_qty out of range: {stock_qty}")
    return stock_qty


_validate_stock = validate_stock  # the name older callers use


def validate_sku(sku: str) -> str:
    sku = _require_text(sku, "sku")
    if len(sku) > MAX_SKU_LENGTH:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"sku is longer than {MAX_SKU_LENGTH} characters")
    return sku


def validate_qr_code(code: str) -> str:
    """An opaque QR payload: 1..2048 printable characters (surrounding whitespace dropped)."""
    if not isinstance(code, str):
        raise ValidationError(ErrorCode.INVALID_QR_CODE, "qr_code must be text")
    cleaned = code.strip()
    if not cleaned or len(cleaned) > MAX_QR_LENGTH or not cleaned.isprintable():
        raise ValidationError(
            ErrorCode.INVALID_QR_CODE,
            f"qr_code must be 1..{MAX_QR_LENGTH} printable characters")
    return cleaned


def validate_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """A flat JSON object: text keys, scalar values (text, numbers, booleans)."""
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise ValidationError(ErrorCode.INVALID_ATTRIBUTES, "attributes must be an object")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValidationError(
            ErrorCode.INVALID_ATTRIBUTES, f"at most {MAX_ATTRIBUTES} attributes")
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 64:
            raise ValidationError(
                ErrorCode.INVALID_ATTRIBUTES, "attribute names must be 1..64 characters")
        if value is not None and not isinstance(value, str | int | float | bool | Decimal):
            raise ValidationError(
                ErrorCode.INVALID_ATTRIBUTES, f"attribute {key!r} must be a scalar value")
        if isinstance(value, float | Decimal):
            if not Decimal(str(value)).is_finite():
                raise ValidationError(
                    ErrorCode.INVALID_ATTRIBUTES, f"attribute {key!r} must be finite")
            value = json.loads(str(value))  # a plain JSON number
        out[key.strip()] = value
    return out


def _scan_code(
    barcode: str | _Unset | None, qr_code: str | _Unset | None
) -> dict[str, str | None]:
    """The barcode / QR columns to write (only those given)."""
    out: dict[str, str | None] = {}
    if barcode is not UNSET:
        out["barcode"] = validate_barcode(barcode) if barcode is not None else None
    if qr_code is not UNSET:
        out["qr_code"] = validate_qr_code(qr_code) if qr_code is not None else None
    return out


# --- row locks and rules shared by products and variants -----------------------------


def _lock_live_product(conn: Connection, product_id: UUID) -> Product:
    row: Product | None = _fetch_one(
        conn, Product,
        f"select {_PRODUCT_COLS} from products where id = %s and deleted_at is null"
        " for no key update",
        (product_id,))
    if row is None:
        raise NotFoundError(ErrorCode.PRODUCT_NOT_FOUND, f"product {product_id} does not exist")
    return row


def _refuse_if_in_bundle(
    conn: Connection, variant_ids: Sequence[UUID], *, exclude: UUID | None = None
) -> None:
    holders = [b for b in bundles.live_bundles_containing(conn, variant_ids) if b != exclude]
    if holders:
        raise ConflictError(
            ErrorCode.VARIANT_IN_BUNDLE,
            "still a component of bundle product(s) " + ", ".join(map(str, holders)))
