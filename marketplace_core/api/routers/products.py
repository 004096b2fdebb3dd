"""Products and variants: the public product card, and the seller's changes (owner of the
shop's merchant or an admin; every change audited and published to core.products /
core.variants)."""

from __future__ import annotations

from functools import cache
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response

from infra.settings import get_settings
from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.api.auth import AuthenticatedUser, SellerOrAdmin
from marketplace_core.api.deps import Pool, ReadPool
from marketplace_core.api.schemas.catalog import (
    BundleItemIn,
    BundleItemOut,
    ProductCardOut,
    ProductCreate,
    ProductOut,
    ProductPatch,
    StockIn,
    Texts,
    VariantIn,
    VariantOut,
    VariantPatch,
    sent_texts,
)
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.catalog import bundles
from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.bundles import BundleItem
from marketplace_core.catalog.card_cache import CardCache
from marketplace_core.catalog.translations import choose_language
from marketplace_core.db import Connection, transaction
from marketplace_core.errors import ErrorCode, NotFoundError

router = APIRouter(tags=["products"])


# --- views -------------------------------------------------------------------------------


def variant_out(v: catalog.Variant) -> VariantOut:
    return VariantOut.model_validate(v)


def product_out(conn: Connection, product: catalog.Product) -> ProductOut:
    items = bundles.items_of(conn, product.id) if product.is_bundle else []
    return ProductOut(
        id=product.id, shop_id=product.shop_id, category_id=product.category_id,
        product_ref=product.external_ref, name=Texts(**product.names),
        description=Texts(**product.descriptions), is_bundle=product.is_bundle,
        bundle_items=[BundleItemOut(variant_id=i.variant_id, quantity=i.quantity)
                      for i in items],
        available_qty=bundles.availability(conn, product.id) if product.is_bundle else None,
        variants=[variant_out(v) for v in catalog.list_variants_for_product(conn, product.id)],
        created_at=product.created_at, updated_at=product.updated_at,
    )


def _items(body: list[BundleItemIn] | None) -> list[BundleItem] | None:
    return None if body is None else [BundleItem(i.variant_id, i.quantity) for i in body]


def _create_variant(conn: Connection, product_id: UUID, v: VariantIn) -> catalog.Variant:
    return catalog.create_variant(
        conn, product_id, v.sku, v.price, barcode=v.barcode, qr_code=v.qr_code,
        attributes=v.attributes, stock_qty=v.stock_qty)


def _manage_variant(conn: Connection, user: AuthenticatedUser, variant_id: UUID) -> (
        catalog.Variant):
    variant = catalog.get_variant(conn, variant_id)
    if variant is None or variant.is_deleted:
        raise NotFoundError(ErrorCode.VARIANT_NOT_FOUND, f"variant {variant_id} does not exist")
    ownership.assert_can_manage_shop(conn, user, variant.shop_id)
    return variant


# --- the public card --------------------------------------------------------------------


@router.get(
    "/products/{product_id}", response_model=ProductCardOut,
    summary="The product card: texts in one language (ru fallback), shop, category path,"
            " variants, bundle content",
    description="The language comes from `?lang=` (ru, ky, en, zh, kk, uz; also kg/kz/uzb)"
                " or else the Accept-Language header; missing translations fall back to"
                " Russian. Public, no token needed.",
    responses=error_responses(404, 422),
)
def get_product_card(
    product_id: UUID,
    pool: ReadPool,
    lang: Annotated[str | None, Query(max_length=16, examples=["ky"])] = None,
    accept_language: Annotated[str | None, Header(max_length=256)] = None,
) -> Response:
    # The hot read path: the body rendered once by pydantic's Rust core (returning a
    # Response skips FastAPI's second validation of an already typed model; the schema is
    # documented by response_model) and kept in the process's card cache, which checks the
    # product's committed versions on every read (one primary-key lookup on an autocommit
    # connection; see catalog/card_cache.py for why that and not invalidation messages).
    language = choose_language(lang, accept_language)
    cache = _card_cache()
    with pool.connection() as conn:
        if cache is None:
            card = catalog.get_product_card(conn, product_id, language)
            body = None if card is None else _render_card(card)
        else:
            body = cache.get(conn, product_id, language, _render_card)
    if body is None:
        raise NotFoundError(ErrorCode.PRODUCT_NOT_FOUND, f"product {product_id} does not exist")
    return Response(body, media_type="application/json",
                    headers={"Content-Language": language})


def _render_card(card: catalog.ProductCard) -> bytes:
    return ProductCardOut.model_validate(card).model_dump_json().encode()


@cache
def _card_cache() -> CardCache[bytes] | None:
    entries = get_settings().card_cache_entries
    return CardCache(entries) if entries else None


# --- products -----------------------------------------------------------------------------


@router.post(
    "/shops/{shop_id}/products", status_code=201, response_model=ProductOut,
    summary="Create a product with its variants (or a bundle with its one variant)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def create_product(
    shop_id: UUID, body: ProductCreate, user: SellerOrAdmin, pool: Pool
) -> ProductOut:
    with transaction(pool) as conn:
        ownership.assert_can_manage_shop(conn, user, shop_id)
        product = catalog.create_product(
            conn, shop_id, body.name.ru, names=sent_texts(body.name),
            descriptions=sent_texts(body.description), category_id=body.category_id,
            bundle_items=_items(body.bundle_items), external_ref=body.product_ref)
        for v in body.variants:
            _create_variant(conn, product.id, v)
        audit.record(conn, user, "product.create", "product", product.id,
                     {"shop_id": shop_id, "name_ru": product.name_ru,
                      "skus": [v.sku for v in body.variants],
                      "is_bundle": product.is_bundle})
        return product_out(conn, product)


@router.patch(
    "/products/{product_id}", response_model=ProductOut,
    summary="Change a product's texts, category, product_ref or bundle content",
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_product(
    product_id: UUID, body: ProductPatch, user: SellerOrAdmin, pool: Pool
) -> ProductOut:
    sent = body.model_fields_set
    with transaction(pool) as conn:
        ownership.assert_can_manage_product(conn, user, product_id)
        product = catalog.update_product(
            conn, product_id, names=sent_texts(body.name),
            descriptions=sent_texts(body.description),
            category_id=body.category_id if "category_id" in sent else catalog.UNSET,
            external_ref=body.product_ref if "product_ref" in sent else catalog.UNSET,
            bundle_items=_items(body.bundle_items))
        audit.record(conn, user, "product.update", "product", product_id,
                     body.model_dump(mode="json", exclude_unset=True))
        return product_out(conn, product)


@router.delete(
    "/products/{product_id}", status_code=204, response_class=Response,
    summary="Delete a product and its variants (soft: orders keep their references)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def delete_product(product_id: UUID, user: SellerOrAdmin, pool: Pool) -> Response:
    with transaction(pool) as conn:
        ownership.assert_can_manage_product(conn, user, product_id)
        catalog.delete_product(conn, product_id)
        audit.record(conn, user, "product.delete", "product", product_id)
    return Response(status_code=204)


# --- variants -------------------------------------------------------------------------------


@router.post(
    "/products/{product_id}/variants", status_code=201, response_model=VariantOut,
    summary="Add a variant (SKU) to a product",
    responses=error_responses(401, 403, 404, 409, 422),
)
def create_variant(
    product_id: UUID, body: VariantIn, user: SellerOrAdmin, pool: Pool
) -> VariantOut:
    with transaction(pool) as conn:
        ownership.assert_can_manage_product(conn, user, product_id)
        variant = _create_variant(conn, product_id, body)
        audit.record(conn, user, "variant.create", "variant", variant.id,
                     {"product_id": product_id, "sku": variant.sku, "price": variant.price})
    return variant_out(variant)


@router.patch(
    "/variants/{variant_id}", response_model=VariantOut,
    summary="Change a variant's price, attributes, SKU, barcode or QR code",
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_variant(
    variant_id: UUID, body: VariantPatch, user: SellerOrAdmin, pool: Pool
) -> VariantOut:
    sent = body.model_fields_set
    with transaction(pool) as conn:
        before = _manage_variant(conn, user, variant_id)
        variant = catalog.update_variant(
            conn, variant_id, price=body.price, attributes=body.attributes, sku=body.sku,
            barcode=body.barcode if "barcode" in sent else catalog.UNSET,
            qr_code=body.qr_code if "qr_code" in sent else catalog.UNSET)
        details = body.model_dump(mode="json", exclude_unset=True)
        if body.price is not None:
            details["old_price"] = before.price
        audit.record(conn, user, "variant.update", "variant", variant_id, details)
    return variant_out(variant)


@router.put(
    "/variants/{variant_id}/stock", response_model=VariantOut,
    summary="Set a variant's free stock (a manual count)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def set_stock(variant_id: UUID, body: StockIn, user: SellerOrAdmin, pool: Pool) -> VariantOut:
    with transaction(pool) as conn:
        before = _manage_variant(conn, user, variant_id)
        variant = catalog.set_variant_stock(conn, variant_id, body.stock_qty, reason="manual")
        audit.record(conn, user, "variant.stock", "variant", variant_id,
                     {"old": before.stock_qty, "new": variant.stock_qty})
    return variant_out(variant)


@router.delete(
    "/variants/{variant_id}", status_code=204, response_class=Response,
    summary="Delete a variant (soft; refused while a bundle contains it)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def delete_variant(variant_id: UUID, user: SellerOrAdmin, pool: Pool) -> Response:
    with transaction(pool) as conn:
        _manage_variant(conn, user, variant_id)
        catalog.delete_variant(conn, variant_id)
        audit.record(conn, user, "variant.delete", "variant", variant_id)
    return Response(status_code=204)
