"""Variants of a product: SKU, barcode / QR code, price, attributes and stock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from marketplace_core.catalog.events import (
    emit_variant_changed,
)
from marketplace_core.catalog.records import (
    _VARIANT_COLS,
    UNSET,
    Variant,
    _fetch_one,
    _insert,
    _lock_live_product,
    _refuse_if_in_bundle,
    _scan_code,
    _Unset,
    validate_attributes,
    validate_price,
    validate_sku,
    validate_stock,
)
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
)


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
