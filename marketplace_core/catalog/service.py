"""Catalog service: the only code that writes the catalog tables.

Every function takes an open connection and runs in its own transaction block (a
savepoint when the caller already has a transaction), so a rejected change leaves the
caller's transaction usable. Rule violations raise `DomainError`s with stable codes.
Money is `decimal.Decimal` with at most 2 decimals (KGS); floats are refused.

Every committed change of a merchant, shop, category, product or variant is published
through the outbox (`catalog.events`), in the same transaction, with the full state after
the change.
Products and variants are deleted softly (`deleted_at`): orders and POS sales keep
pointing at them, while their SKU, barcode and QR code become free again.
"""

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
from psycopg.types.json import Jsonb

from marketplace_core.catalog import bundles
from marketplace_core.catalog.barcodes import validate_barcode
from marketplace_core.catalog.bundles import BundleItem
from marketplace_core.catalog.card import ProductCard, get_product_card
from marketplace_core.catalog.events import (
    emit_category_changed,
    emit_merchant_changed,
    emit_product_changed,
    emit_shop_changed,
    emit_variant_changed,
)
from marketplace_core.catalog.translations import LANGUAGES, Texts, validate_texts
from marketplace_core.db import Connection, advisory_xact_lock, violated_constraint
from marketplace_core.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)

MAX_PRICE = Decimal("9999999999.99")  # numeric(12,2)
MAX_STOCK = 2**31 - 1
MAX_SKU_LENGTH = 64
MAX_QR_LENGTH = 2048
MAX_ATTRIBUTES = 50
_CENT = Decimal("0.01")
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
    if price != price.quantize(_CENT):
        raise ValidationError(ErrorCode.INVALID_PRICE, f"price has more than 2 decimals: {price}")
    return price.quantize(_CENT)


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


# --- merchants and shops ------------------------------------------------------------


def create_merchant(conn: Connection, name: str, *, id: UUID | None = None) -> Merchant:
    """A merchant (a seller's business). Emits merchant.created."""
    name = _require_text(name, "name")
    with conn.transaction():
        result: Merchant = _insert(
            conn, Merchant,
            f"insert into merchants (id, name) values (coalesce(%(id)s, gen_random_uuid()), "
            f"%(name)s) returning {_MERCHANT_COLS}",
            {"id": id, "name": name},
        )
        emit_merchant_changed(conn, result.id, "merchant.created")
    return result


def get_merchant(conn: Connection, merchant_id: UUID) -> Merchant | None:
    row: Merchant | None = _fetch_one(
        conn, Merchant, f"select {_MERCHANT_COLS} from merchants where id = %s", (merchant_id,))
    return row


def get_merchants(conn: Connection, merchant_ids: Sequence[UUID]) -> list[Merchant]:
    """The merchants with these ids, oldest first (unknown ids are skipped)."""
    with conn.cursor(row_factory=class_row(Merchant)) as cur:
        return cur.execute(
            f"select {_MERCHANT_COLS} from merchants where id = any(%s)"
            " order by created_at, id".encode(),
            (list(merchant_ids),),
        ).fetchall()


def merchant_exists(conn: Connection, merchant_id: UUID) -> bool:
    return conn.execute(
        "select 1 from merchants where id = %s", (merchant_id,)).fetchone() is not None


def lock_merchant(conn: Connection, merchant_id: UUID, *, shared: bool = False) -> bool:
    """Lock the merchant's row until the caller's transaction ends (FOR UPDATE, or FOR
    SHARE with `shared`): serialises changes that hang off one merchant. False: no such
    merchant."""
    sql = ("select id from merchants where id = %s for share" if shared
           else "select id from merchants where id = %s for update")
    return conn.execute(sql, (merchant_id,)).fetchone() is not None


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
    """A shop of a merchant. Emits shop.created. Raises MERCHANT_NOT_FOUND."""
    if payout_status not in PAYOUT_STATUSES:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"payout_status must be one of {PAYOUT_STATUSES}")
    params = {
        "id": id, "merchant_id": merchant_id, "name": _require_text(name, "name"),
        "address": _optional_text(address, "address"),
        "phone": _optional_text(phone, "phone"),
        "lat": _coordinate(lat, "lat", 90), "lon": _coordinate(lon, "lon", 180),
        "market": _optional_text(market, "market"), "payout_status": payout_status,
    }
    with conn.transaction():
        result: Shop = _insert(
            conn, Shop,
            "insert into shops (id, merchant_id, name, address, phone, lat, lon, market,"
            " payout_status) values (coalesce(%(id)s, gen_random_uuid()), %(merchant_id)s,"
            " %(name)s, %(address)s, %(phone)s, %(lat)s, %(lon)s, %(market)s,"
            f" %(payout_status)s) returning {_SHOP_COLS}",
            params,
        )
        emit_shop_changed(conn, result.id, "shop.created")
    return result


def update_shop(
    conn: Connection,
    shop_id: UUID,
    *,
    name: str | None = None,
    address: str | _Unset | None = UNSET,
    phone: str | _Unset | None = UNSET,
    lat: Decimal | _Unset | None = UNSET,
    lon: Decimal | _Unset | None = UNSET,
    market: str | _Unset | None = UNSET,
) -> Shop:
    """Change a shop's public details (not its payout status: `set_shops_payout_status`).
    Emits shop.updated when anything was given. Raises SHOP_NOT_FOUND."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _require_text(name, "name")
    for column, value in (("address", address), ("phone", phone), ("market", market)):
        if value is not UNSET:
            changes[column] = _optional_text(value, column)
    if lat is not UNSET:
        changes["lat"] = _coordinate(lat, "lat", 90)
    if lon is not UNSET:
        changes["lon"] = _coordinate(lon, "lon", 180)
    assignments = ", ".join(f"{c} = %({c})s" for c in changes) or "id = id"
    with conn.transaction():
        row: Shop | None = _write(
            conn, Shop,
            f"update shops set {assignments} where id = %(id)s returning {_SHOP_COLS}",
            {**changes, "id": shop_id},
        )
        if row is None:
            raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
        if changes:
            emit_shop_changed(conn, shop_id, "shop.updated")
    return row


def set_shops_payout_status(conn: Connection, merchant_id: UUID, status: str) -> list[UUID]:
    """Turn all the merchant's shops' payout_status to `status` (payout onboarding and
    suspension call this; they own the decision, the catalog owns the row). Emits
    shop.updated for each shop whose status changed; returns those shops' ids."""
    if status not in PAYOUT_STATUSES:
        raise ValueError(f"payout_status must be one of {PAYOUT_STATUSES}")
    with conn.transaction():
        changed = [r[0] for r in conn.execute(
            "update shops set payout_status = %s where merchant_id = %s"
            " and payout_status <> %s returning id",
            (status, merchant_id, status)).fetchall()]
        for shop_id in sorted(changed):
            emit_shop_changed(conn, shop_id, "shop.updated")
    return changed


def get_shop(conn: Connection, shop_id: UUID) -> Shop | None:
    row: Shop | None = _fetch_one(
        conn, Shop, f"select {_SHOP_COLS} from shops where id = %s", (shop_id,))
    return row


def get_shops(conn: Connection, shop_ids: Sequence[UUID]) -> list[Shop]:
    """The shops with these ids, in no particular order (unknown ids are skipped)."""
    with conn.cursor(row_factory=class_row(Shop)) as cur:
        return cur.execute(
            f"select {_SHOP_COLS} from shops where id = any(%s)".encode(),
            (list(shop_ids),),
        ).fetchall()


def shop_ids_of_merchant(conn: Connection, merchant_id: UUID) -> list[UUID]:
    """The ids of the merchant's shops, in id order."""
    rows = conn.execute(
        "select id from shops where merchant_id = %s order by id", (merchant_id,)).fetchall()
    return [r[0] for r in rows]


def merchant_of_shop(conn: Connection, shop_id: UUID) -> UUID | None:
    """The merchant selling through the shop (None: no such shop)."""
    row = conn.execute("select merchant_id from shops where id = %s", (shop_id,)).fetchone()
    return row[0] if row else None


def list_shops(conn: Connection, *, merchant_id: UUID | None = None) -> list[Shop]:
    with conn.cursor(row_factory=class_row(Shop)) as cur:
        return cur.execute(
            f"select {_SHOP_COLS} from shops"
            " where %(m)s::uuid is null or merchant_id = %(m)s order by name, id".encode(),
            {"m": merchant_id},
        ).fetchall()


# --- categories -----------------------------------------------------------------------


def _slug(slug: str) -> str:
    slug = _require_text(slug, "slug")
    if not _SLUG.match(slug):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "slug must be lower-case latin letters, digits and '-' (at most 100)")
    return slug


def _sort_order(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 1_000_000:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "sort_order must be a small int")
    return value


def create_category(
    conn: Connection,
    slug: str,
    name_ru: str,
    name_ky: str | None = None,
    *,
    names: Mapping[str, str | None] | None = None,
    parent_id: UUID | None = None,
    sort_order: int = 0,
    id: UUID | None = None,
) -> Category:
    """A category (admins only, enforced by the API). `names` may carry any language;
    `name_ru` / `name_ky` win over it. Raises DUPLICATE_SLUG, CATEGORY_NOT_FOUND (parent),
    TRANSLATION_REQUIRED, INVALID_LANGUAGE."""
    texts = dict(names or {})
    texts["ru"] = name_ru
    if name_ky is not None:
        texts["ky"] = name_ky
    cleaned = validate_texts(texts, "name", require_ru=True)
    params = {f"name_{lang}": cleaned.get(lang) for lang in LANGUAGES}
    slug = _slug(slug)
    sort_order = _sort_order(sort_order)
    with conn.transaction():
        result: Category = _insert(
            conn, Category,
            f"insert into categories (id, parent_id, slug, {_NAME_COLS}, sort_order) values"
            " (coalesce(%(id)s, gen_random_uuid()), %(parent_id)s, %(slug)s, "
            + ", ".join(f"%({c})s" for c in params)
            + f", %(sort_order)s) returning {_CATEGORY_COLS}",
            {"id": id, "parent_id": parent_id, "slug": slug, "sort_order": sort_order,
             **params},
        )
        emit_category_changed(conn, result.id, "category.created")
    return result


def update_category(
    conn: Connection,
    category_id: UUID,
    *,
    slug: str | None = None,
    names: Mapping[str, str | None] | None = None,
    parent_id: UUID | _Unset | None = UNSET,
    sort_order: int | None = None,
) -> Category:
    """Rename and/or move a category. `names` changes only the languages it lists (None
    clears one; ru cannot be cleared); `parent_id=None` makes it a root. Raises
    CATEGORY_NOT_FOUND, CATEGORY_CYCLE (the new parent is the category or inside it),
    DUPLICATE_SLUG. Emits category.updated when anything was given."""
    changes: dict[str, Any] = {}
    if slug is not None:
        changes["slug"] = _slug(slug)
    if names:
        for lang, text in validate_texts(names, "name", keep_ru=True).items():
            changes[f"name_{lang}"] = text
    if sort_order is not None:
        changes["sort_order"] = _sort_order(sort_order)
    if parent_id is not UNSET:
        advisory_xact_lock(conn, _CATEGORY_TREE_LOCK)
        if parent_id is not None:
            if get_category(conn, category_id) is None:
                raise NotFoundError(
                    ErrorCode.CATEGORY_NOT_FOUND, f"category {category_id} does not exist")
            if parent_id == category_id or category_id in {c.id for c in category_path(
                    conn, parent_id)}:
                raise ConflictError(
                    ErrorCode.CATEGORY_CYCLE,
                    "a category cannot move under itself or one of its descendants")
        changes["parent_id"] = parent_id
    assignments = ", ".join(f"{c} = %({c})s" for c in changes) or "id = id"
    with conn.transaction():
        row: Category | None = _write(
            conn, Category,
            f"update categories set {assignments} where id = %(id)s returning {_CATEGORY_COLS}",
            {**changes, "id": category_id},
        )
        if row is None:
            raise NotFoundError(
                ErrorCode.CATEGORY_NOT_FOUND, f"category {category_id} does not exist")
        if changes:
            emit_category_changed(conn, category_id, "category.updated")
    return row


def get_category(conn: Connection, category_id: UUID) -> Category | None:
    row: Category | None = _fetch_one(
        conn, Category, f"select {_CATEGORY_COLS} from categories where id = %s",
        (category_id,))
    return row


def get_category_by_slug(conn: Connection, slug: str) -> Category | None:
    row: Category | None = _fetch_one(
        conn, Category, f"select {_CATEGORY_COLS} from categories where slug = %s", (slug,))
    return row


def list_categories(conn: Connection) -> list[Category]:
    with conn.cursor(row_factory=class_row(Category)) as cur:
        return cur.execute(
            f"select {_CATEGORY_COLS} from categories order by sort_order, name_ru, id".encode()
        ).fetchall()


def category_parents(conn: Connection) -> dict[UUID, UUID | None]:
    """Every category's parent (None for a root)."""
    return dict(conn.execute("select id, parent_id from categories").fetchall())


def category_tree(conn: Connection) -> list[CategoryNode]:
    """All categories as a forest, siblings ordered by sort_order then Russian name."""
    nodes = {c.id: CategoryNode(c) for c in list_categories(conn)}
    roots: list[CategoryNode] = []
    for node in nodes.values():
        parent = nodes.get(node.category.parent_id) if node.category.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def category_path(conn: Connection, category_id: UUID) -> list[Category]:
    """The category and its ancestors, root first (empty if it does not exist)."""
    with conn.cursor(row_factory=class_row(Category)) as cur:
        rows = cur.execute(
            f"""with recursive up as (
                    select {_CATEGORY_COLS}, 0 as depth from categories where id = %s
                    union all
                    select c.id, c.parent_id, c.slug, {", ".join(
                        "c.name_" + lang for lang in LANGUAGES)}, c.sort_order, up.depth + 1
                    from categories c join up on c.id = up.parent_id
                    where up.depth < 100
                )
                select {_CATEGORY_COLS} from up order by depth desc""".encode(),
            (category_id,),
        ).fetchall()
    return rows


def category_subtree_ids(conn: Connection, category_id: UUID) -> list[UUID]:
    """The category and all its descendants."""
    rows = conn.execute(
        """with recursive down as (
               select id, 0 as depth from categories where id = %s
               union all
               select c.id, down.depth + 1 from categories c join down on c.parent_id = down.id
               where down.depth < 100
           )
           select id from down""",
        (category_id,),
    ).fetchall()
    return [r[0] for r in rows]


# --- products ---------------------------------------------------------------------------


def _product_texts(
    name_ru: str | None,
    name_ky: str | None,
    description_ru: str | None,
    names: Mapping[str, str | None] | None,
    descriptions: Mapping[str, str | None] | None,
) -> tuple[Texts, Texts]:
    name_texts = dict(names or {})
    if name_ru is not None:
        name_texts["ru"] = name_ru
    if name_ky is not None:
        name_texts["ky"] = name_ky
    description_texts = dict(descriptions or {})
    if description_ru is not None:
        description_texts["ru"] = description_ru
    return (validate_texts(name_texts, "name", require_ru=True),
            validate_texts(description_texts, "description"))


def _external_ref(value: str | None) -> str | None:
    ref = _optional_text(value, "product_ref")
    if ref is not None and len(ref) > 100:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "product_ref is at most 100 characters")
    return ref


def create_product(
    conn: Connection,
    shop_id: UUID,
    name_ru: str,
    *,
    category_id: UUID | None = None,
    name_ky: str | None = None,
    description_ru: str | None = None,
    names: Mapping[str, str | None] | None = None,
    descriptions: Mapping[str, str | None] | None = None,
    bundle_items: Sequence[BundleItem] | None = None,
    external_ref: str | None = None,
    id: UUID | None = None,
) -> Product:
    """A product of a shop; with `bundle_items` it is a bundle of the shop's variants.

    `names` / `descriptions` carry translations ({"ky": ..., "en": ...}); the explicit
    `name_ru`, `name_ky`, `description_ru` win over them. Emits product.created.
    Raises SHOP_NOT_FOUND, CATEGORY_NOT_FOUND, TRANSLATION_REQUIRED, INVALID_LANGUAGE,
    INVALID_BUNDLE, DUPLICATE_PRODUCT_REF.
    """
    name_texts, description_texts = _product_texts(
        name_ru, name_ky, description_ru, names, descriptions)
    params: dict[str, Any] = {f"name_{lang}": name_texts.get(lang) for lang in LANGUAGES}
    params.update({f"description_{lang}": description_texts.get(lang) for lang in LANGUAGES})
    is_bundle = bundle_items is not None
    with conn.transaction():
        if is_bundle:
            assert bundle_items is not None
            bundles.validate_items(conn, shop_id, bundle_items)
        product: Product = _insert(
            conn, Product,
            f"insert into products (id, shop_id, category_id, {_NAME_COLS}, {_DESCRIPTION_COLS},"
            " is_bundle, external_ref) values (coalesce(%(id)s, gen_random_uuid()),"
            " %(shop_id)s, %(category_id)s, "
            + ", ".join(f"%({c})s" for c in params)
            + f", %(is_bundle)s, %(external_ref)s) returning {_PRODUCT_COLS}",
            {"id": id, "shop_id": shop_id, "category_id": category_id, "is_bundle": is_bundle,
             "external_ref": _external_ref(external_ref), **params},
        )
        if is_bundle:
            assert bundle_items is not None
            bundles.replace_items(conn, product.id, shop_id, bundle_items)
        emit_product_changed(conn, product.id, "product.created")
    return product


def get_product(conn: Connection, product_id: UUID) -> Product | None:
    """The product, deleted or not (see `Product.is_deleted`)."""
    row: Product | None = _fetch_one(
        conn, Product, f"select {_PRODUCT_COLS} from products where id = %s", (product_id,))
    return row


def get_products(conn: Connection, product_ids: Sequence[UUID]) -> list[Product]:
    """The products with these ids (deleted or not), in no particular order."""
    with conn.cursor(row_factory=class_row(Product)) as cur:
        return cur.execute(
            f"select {_PRODUCT_COLS} from products where id = any(%s)".encode(),
            (list(product_ids),),
        ).fetchall()


def merchant_of_product(conn: Connection, product_id: UUID) -> UUID | None:
    """The merchant selling the product, deleted or not (None: no such product)."""
    row = conn.execute(
        "select s.merchant_id from products p join shops s on s.id = p.shop_id where p.id = %s",
        (product_id,),
    ).fetchone()
    return row[0] if row else None


def find_products_by_ref(conn: Connection, shop_id: UUID, refs: Sequence[str]) -> list[Product]:
    """The shop's live products whose product_ref (external_ref) is one of `refs`."""
    with conn.cursor(row_factory=class_row(Product)) as cur:
        return cur.execute(
            f"select {_PRODUCT_COLS} from products where shop_id = %s"
            " and external_ref = any(%s) and deleted_at is null".encode(),
            (shop_id, list(refs)),
        ).fetchall()


def _lock_live_product(conn: Connection, product_id: UUID) -> Product:
    row: Product | None = _fetch_one(
        conn, Product,
        f"select {_PRODUCT_COLS} from products where id = %s and deleted_at is null"
        " for no key update",
        (product_id,))
    if row is None:
        raise NotFoundError(ErrorCode.PRODUCT_NOT_FOUND, f"product {product_id} does not exist")
    return row


def update_product(
    conn: Connection,
    product_id: UUID,
    *,
    names: Mapping[str, str | None] | None = None,
    descriptions: Mapping[str, str | None] | None = None,
    category_id: UUID | _Unset | None = UNSET,
    bundle_items: Sequence[BundleItem] | None = None,
    external_ref: str | _Unset | None = UNSET,
) -> Product:
    """Change a live product. `names` / `descriptions` change only the languages they list
    (None clears one; the Russian name cannot be cleared). `bundle_items` replaces a
    bundle's content. Emits product.updated (and variant.updated for a bundle's variant,
    whose derived stock follows its content). Raises PRODUCT_NOT_FOUND,
    CATEGORY_NOT_FOUND, INVALID_BUNDLE, TRANSLATION_REQUIRED, INVALID_LANGUAGE."""
    changes: dict[str, Any] = {}
    if names:
        for lang, text in validate_texts(names, "name", keep_ru=True).items():
            changes[f"name_{lang}"] = text
    if descriptions:
        for lang, text in validate_texts(descriptions, "description").items():
            changes[f"description_{lang}"] = text
    if category_id is not UNSET:
        changes["category_id"] = category_id
    if external_ref is not UNSET:
        changes["external_ref"] = _external_ref(external_ref)
    with conn.transaction():
        current = _lock_live_product(conn, product_id)
        if bundle_items is not None:
            if not current.is_bundle:
                raise ValidationError(
                    ErrorCode.INVALID_BUNDLE, "only a bundle product has bundle items")
            bundles.validate_items(conn, current.shop_id, bundle_items)
            bundles.replace_items(conn, product_id, current.shop_id, bundle_items)
        assignments = "".join(f"{c} = %({c})s, " for c in changes)
        product: Product = _insert(
            conn, Product,
            f"update products set {assignments}updated_at = now() where id = %(id)s"
            f" returning {_PRODUCT_COLS}",
            {**changes, "id": product_id},
        )
        emit_product_changed(conn, product_id, "product.updated")
        if bundle_items is not None:
            for variant in list_variants_for_product(conn, product_id):
                emit_variant_changed(conn, variant.id, "variant.updated")
    return product


def delete_product(conn: Connection, product_id: UUID) -> Product:
    """Soft-delete a product and its variants (emits variant.deleted for each, then
    product.deleted). Raises PRODUCT_NOT_FOUND, VARIANT_IN_BUNDLE (a live bundle still
    contains one of its variants: change or delete that bundle first)."""
    with conn.transaction():
        _lock_live_product(conn, product_id)
        variants = list_variants_for_product(conn, product_id, for_update=True)
        _refuse_if_in_bundle(conn, [v.id for v in variants], exclude=product_id)
        conn.execute(
            "update product_variants set deleted_at = now(), updated_at = now()"
            " where product_id = %s and deleted_at is null", (product_id,))
        product: Product = _insert(
            conn, Product,
            "update products set deleted_at = now(), updated_at = now() where id = %(id)s"
            f" returning {_PRODUCT_COLS}",
            {"id": product_id},
        )
        for variant in variants:
            emit_variant_changed(conn, variant.id, "variant.deleted")
        emit_product_changed(conn, product_id, "product.deleted")
    return product


def _refuse_if_in_bundle(
    conn: Connection, variant_ids: Sequence[UUID], *, exclude: UUID | None = None
) -> None:
    holders = [b for b in bundles.live_bundles_containing(conn, variant_ids) if b != exclude]
    if holders:
        raise ConflictError(
            ErrorCode.VARIANT_IN_BUNDLE,
            "still a component of bundle product(s) " + ", ".join(map(str, holders)))


# --- variants -----------------------------------------------------------------------------


def create_variant(
    conn: Connection,
    product_id: UUID,
    sku: str,
    price: Decimal,
    *,
    barcode: str | None = None,
    qr_code: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    stock_qty: int = 0,
    id: UUID | None = None,
) -> Variant:
    """A sellable variant of a live product, in the product's shop. Emits variant.created.

    The one place variants are born (the API, the import and the seed all come here), so
    per-shop limits (subscription SKU quotas) belong here.

    Raises INVALID_BARCODE (not a valid EAN-13/EAN-8/UPC-A), INVALID_QR_CODE, INVALID_PRICE,
    INVALID_STOCK, INVALID_ATTRIBUTES, PRODUCT_NOT_FOUND, DUPLICATE_BARCODE / DUPLICATE_SKU
    (already used in this shop), BUNDLE_SINGLE_VARIANT (a bundle has one variant),
    BUNDLE_STOCK_DERIVED (a bundle's variant keeps no stock of its own).
    """
    sku = validate_sku(sku)
    price = validate_price(price)
    stock_qty = validate_stock(stock_qty)
    codes = _scan_code(barcode, qr_code)
    attrs = validate_attributes(attributes)
    with conn.transaction():
        from marketplace_core.subscriptions.service import ensure_sku_capacity_for_product
        ensure_sku_capacity_for_product(conn, product_id, 1)  # SKU_LIMIT_REACHED (the plan)
        product = _lock_live_product(conn, product_id)
        if product.is_bundle:
            if stock_qty:
                raise ConflictError(
                    ErrorCode.BUNDLE_STOCK_DERIVED,
                    "a bundle's stock follows its components; give no stock_qty")
            if list_variants_for_product(conn, product_id):
                raise ConflictError(
                    ErrorCode.BUNDLE_SINGLE_VARIANT, "a bundle product has exactly one variant")
        variant: Variant = _insert(
            conn, Variant,
            "insert into product_variants (id, product_id, shop_id, sku, barcode, qr_code,"
            " attributes, price, stock_qty) values (coalesce(%(id)s, gen_random_uuid()),"
            " %(product_id)s, %(shop_id)s, %(sku)s, %(barcode)s, %(qr_code)s, %(attributes)s,"
            f" %(price)s, %(stock_qty)s) returning {_VARIANT_COLS}",
            {
                "id": id, "product_id": product_id, "shop_id": product.shop_id, "sku": sku,
                "barcode": codes["barcode"], "qr_code": codes["qr_code"],
                "attributes": Jsonb(attrs), "price": price, "stock_qty": stock_qty,
            },
        )
        emit_variant_changed(conn, variant.id, "variant.created")
    return variant


def _lock_live_variant(conn: Connection, variant_id: UUID) -> tuple[Variant, bool]:
    """The live variant, locked, and whether it belongs to a bundle product."""
    row = conn.execute(
        "select p.is_bundle from product_variants v join products p on p.id = v.product_id"
        " where v.id = %s and v.deleted_at is null and p.deleted_at is null"
        " for no key update of v",
        (variant_id,),
    ).fetchone()
    variant = get_variant(conn, variant_id) if row else None
    if row is None or variant is None:
        raise NotFoundError(ErrorCode.VARIANT_NOT_FOUND, f"variant {variant_id} does not exist")
    return variant, bool(row[0])


def update_variant(
    conn: Connection,
    variant_id: UUID,
    *,
    price: Decimal | None = None,
    attributes: Mapping[str, Any] | None = None,
    sku: str | None = None,
    barcode: str | _Unset | None = UNSET,
    qr_code: str | _Unset | None = UNSET,
) -> Variant:
    """Change a live variant's price, attributes (replaced as a whole), SKU or codes.

    Emits variant.price_changed when the price moved and variant.updated when anything
    else did (both when both did; nothing when nothing changed). Raises VARIANT_NOT_FOUND,
    INVALID_PRICE, INVALID_ATTRIBUTES, INVALID_BARCODE, INVALID_QR_CODE, DUPLICATE_SKU,
    DUPLICATE_BARCODE.
    """
    changes: dict[str, Any] = {}
    if price is not None:
        changes["price"] = validate_price(price)
    if attributes is not None:
        changes["attributes"] = validate_attributes(attributes)
    if sku is not None:
        changes["sku"] = validate_sku(sku)
    changes.update(_scan_code(barcode, qr_code))
    with conn.transaction():
        current, _ = _lock_live_variant(conn, variant_id)
        changed = {c for c, v in changes.items() if getattr(current, c) != v}
        if not changed:
            return current
        params = {c: (Jsonb(changes[c]) if c == "attributes" else changes[c]) for c in changed}
        assignments = "".join(f"{c} = %({c})s, " for c in sorted(changed))
        variant: Variant = _insert(
            conn, Variant,
            f"update product_variants set {assignments}updated_at = now() where id = %(id)s"
            f" returning {_VARIANT_COLS}",
            {**params, "id": variant_id},
        )
        if "price" in changed:
            emit_variant_changed(conn, variant_id, "variant.price_changed")
        if changed - {"price"}:
            emit_variant_changed(conn, variant_id, "variant.updated")
    return variant


def set_variant_stock(
    conn: Connection, variant_id: UUID, stock_qty: int, *, reason: str = "manual"
) -> Variant:
    """Set the free stock a seller counted (reason "manual") or imported ("import").

    Emits variant.stock_changed with the delta (nothing if the stock did not change).
    Raises VARIANT_NOT_FOUND, INVALID_STOCK, BUNDLE_STOCK_DERIVED.
    """
    stock_qty = validate_stock(stock_qty)
    if reason not in ("manual", "import"):
        raise ValueError(f"set_variant_stock is for manual/import counts, not {reason!r}")
    with conn.transaction():
        current, is_bundle = _lock_live_variant(conn, variant_id)
        if is_bundle:
            raise ConflictError(
                ErrorCode.BUNDLE_STOCK_DERIVED,
                "a bundle's stock follows its components; set theirs instead")
        if current.stock_qty == stock_qty:
            return current
        variant: Variant = _insert(
            conn, Variant,
            "update product_variants set stock_qty = %(stock)s, updated_at = now()"
            f" where id = %(id)s returning {_VARIANT_COLS}",
            {"stock": stock_qty, "id": variant_id},
        )
        emit_variant_changed(conn, variant_id, "variant.stock_changed",
                             stock_delta=stock_qty - current.stock_qty, reason=reason)
    return variant


def delete_variant(conn: Connection, variant_id: UUID) -> Variant:
    """Soft-delete a variant (emits variant.deleted). Raises VARIANT_NOT_FOUND,
    VARIANT_IN_BUNDLE (a live bundle contains it)."""
    with conn.transaction():
        _lock_live_variant(conn, variant_id)
        _refuse_if_in_bundle(conn, [variant_id])
        variant: Variant = _insert(
            conn, Variant,
            "update product_variants set deleted_at = now(), updated_at = now()"
            f" where id = %(id)s returning {_VARIANT_COLS}",
            {"id": variant_id},
        )
        emit_variant_changed(conn, variant_id, "variant.deleted")
    return variant


def get_variant(conn: Connection, variant_id: UUID) -> Variant | None:
    """The variant, deleted or not (see `Variant.is_deleted`)."""
    row: Variant | None = _fetch_one(
        conn, Variant, f"select {_VARIANT_COLS} from product_variants where id = %s",
        (variant_id,))
    return row


def get_variants(conn: Connection, variant_ids: Sequence[UUID]) -> list[Variant]:
    """The variants with these ids (deleted or not), in no particular order."""
    with conn.cursor(row_factory=class_row(Variant)) as cur:
        return cur.execute(
            f"select {_VARIANT_COLS} from product_variants where id = any(%s)".encode(),
            (list(variant_ids),),
        ).fetchall()


def get_variant_by_barcode(conn: Connection, shop_id: UUID, barcode: str) -> Variant | None:
    """The shop's live variant with this barcode (what a POS scan resolves to), if any."""
    row: Variant | None = _fetch_one(
        conn, Variant,
        f"select {_VARIANT_COLS} from product_variants where shop_id = %s and barcode = %s"
        " and deleted_at is null",
        (shop_id, barcode.strip()))
    return row


def get_variant_by_qr_code(conn: Connection, shop_id: UUID, qr_code: str) -> Variant | None:
    """The shop's live variant with this QR payload, if any."""
    row: Variant | None = _fetch_one(
        conn, Variant,
        f"select {_VARIANT_COLS} from product_variants where shop_id = %s and qr_code = %s"
        " and deleted_at is null",
        (shop_id, qr_code.strip()))
    return row


def count_live_variants_of_merchant(conn: Connection, merchant_id: UUID) -> int:
    """Live (not deleted) variants of live products across all of the merchant's shops."""
    row = conn.execute(
        "select count(*) from product_variants v"
        " join shops s on s.id = v.shop_id"
        " join products p on p.id = v.product_id"
        " where s.merchant_id = %s and v.deleted_at is null and p.deleted_at is null",
        (merchant_id,),
    ).fetchone()
    return int(row[0]) if row else 0


def list_variants_for_shop(conn: Connection, shop_id: UUID) -> list[Variant]:
    """All live variants a shop sells, ordered by SKU."""
    with conn.cursor(row_factory=class_row(Variant)) as cur:
        return cur.execute(
            f"select {_VARIANT_COLS} from product_variants where shop_id = %s"
            " and deleted_at is null order by sku, id".encode(),
            (shop_id,),
        ).fetchall()


def list_variants_for_product(
    conn: Connection, product_id: UUID, *, for_update: bool = False
) -> list[Variant]:
    """A product's live variants, ordered by SKU."""
    lock = " for no key update" if for_update else ""
    with conn.cursor(row_factory=class_row(Variant)) as cur:
        return cur.execute(
            f"select {_VARIANT_COLS} from product_variants where product_id = %s"
            f" and deleted_at is null order by sku, id{lock}".encode(),
            (product_id,),
        ).fetchall()


__all__ = [
    "UNSET",
    "BundleItem",
    "Category",
    "CategoryNode",
    "Merchant",
    "Product",
    "ProductCard",
    "Shop",
    "Variant",
    "category_parents",
    "category_path",
    "category_subtree_ids",
    "category_tree",
    "count_live_variants_of_merchant",
    "create_category",
    "create_merchant",
    "create_product",
    "create_shop",
    "create_variant",
    "delete_product",
    "delete_variant",
    "find_products_by_ref",
    "get_category",
    "get_category_by_slug",
    "get_merchant",
    "get_merchants",
    "get_product",
    "get_product_card",
    "get_products",
    "get_shop",
    "get_shops",
    "get_variant",
    "get_variant_by_barcode",
    "get_variant_by_qr_code",
    "get_variants",
    "list_categories",
    "list_shops",
    "list_variants_for_product",
    "list_variants_for_shop",
    "lock_merchant",
    "merchant_exists",
    "merchant_of_product",
    "merchant_of_shop",
    "set_shops_payout_status",
    "set_variant_stock",
    "shop_ids_of_merchant",
    "update_category",
    "update_product",
    "update_shop",
    "update_variant",
    "validate_attributes",
    "validate_price",
    "validate_qr_code",
    "validate_sku",
    "validate_stock",
]
