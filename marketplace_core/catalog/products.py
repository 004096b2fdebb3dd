"""Products of a shop (and bundles of other variants): texts, category, soft delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.catalog import bundles
from marketplace_core.catalog.bundles import BundleItem
from marketplace_core.catalog.events import (
    emit_product_changed,
    emit_variant_changed,
)
from marketplace_core.catalog.records import (
    _DESCRIPTION_COLS,
    _NAME_COLS,
    _PRODUCT_COLS,
    UNSET,
    Product,
    _fetch_one,
    _insert,
    _lock_live_product,
    _optional_text,
    _refuse_if_in_bundle,
    _Unset,
)
from marketplace_core.catalog.translations import LANGUAGES, Texts, validate_texts
from marketplace_core.catalog.variants import list_variants_for_product
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ErrorCode,
    ValidationError,
)


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
