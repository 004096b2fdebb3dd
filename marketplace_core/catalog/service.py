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

The code lives with its aggregate: `merchants`, `shops`, `categories`, `products`,
`variants`, on the records, validation and shared row helpers of `records`. This module
re-exports their public names, so `from marketplace_core.catalog import service` keeps
working for every caller.
"""

from __future__ import annotations

from decimal import Decimal as Decimal  # money type; some callers reach it as catalog.Decimal

from marketplace_core.catalog.bundles import (
    BundleItem as BundleItem,
)
from marketplace_core.catalog.card import (
    ProductCard as ProductCard,
)
from marketplace_core.catalog.card import (
    get_product_card as get_product_card,
)
from marketplace_core.catalog.categories import (
    category_parents as category_parents,
)
from marketplace_core.catalog.categories import (
    category_path as category_path,
)
from marketplace_core.catalog.categories import (
    category_subtree_ids as category_subtree_ids,
)
from marketplace_core.catalog.categories import (
    category_tree as category_tree,
)
from marketplace_core.catalog.categories import (
    create_category as create_category,
)
from marketplace_core.catalog.categories import (
    get_category as get_category,
)
from marketplace_core.catalog.categories import (
    get_category_by_slug as get_category_by_slug,
)
from marketplace_core.catalog.categories import (
    list_categories as list_categories,
)
from marketplace_core.catalog.categories import (
    update_category as update_category,
)
from marketplace_core.catalog.merchants import (
    create_merchant as create_merchant,
)
from marketplace_core.catalog.merchants import (
    get_merchant as get_merchant,
)
from marketplace_core.catalog.merchants import (
    get_merchants as get_merchants,
)
from marketplace_core.catalog.merchants import (
    lock_merchant as lock_merchant,
)
from marketplace_core.catalog.merchants import (
    merchant_exists as merchant_exists,
)
from marketplace_core.catalog.products import (
    create_product as create_product,
)
from marketplace_core.catalog.products import (
    delete_product as delete_product,
)
from marketplace_core.catalog.products import (
    find_products_by_ref as find_products_by_ref,
)
from marketplace_core.catalog.products import (
    get_product as get_product,
)
from marketplace_core.catalog.products import (
    get_products as get_products,
)
from marketplace_core.catalog.products import (
    merchant_of_product as merchant_of_product,
)
from marketplace_core.catalog.products import (
    update_product as update_product,
)
from marketplace_core.catalog.records import (
    MAX_ATTRIBUTES as MAX_ATTRIBUTES,
)
from marketplace_core.catalog.records import (
    MAX_PRICE as MAX_PRICE,
)
from marketplace_core.catalog.records import (
    MAX_QR_LENGTH as MAX_QR_LENGTH,
)
from marketplace_core.catalog.records import (
    MAX_SKU_LENGTH as MAX_SKU_LENGTH,
)
from marketplace_core.catalog.records import (
    MAX_STOCK as MAX_STOCK,
)
from marketplace_core.catalog.records import (
    PAYOUT_STATUSES as PAYOUT_STATUSES,
)
from marketplace_core.catalog.records import (
    UNSET as UNSET,
)
from marketplace_core.catalog.records import (
    Category as Category,
)
from marketplace_core.catalog.records import (
    CategoryNode as CategoryNode,
)
from marketplace_core.catalog.records import (
    Merchant as Merchant,
)
from marketplace_core.catalog.records import (
    Product as Product,
)
from marketplace_core.catalog.records import (
    Shop as Shop,
)
from marketplace_core.catalog.records import (
    Variant as Variant,
)
from marketplace_core.catalog.records import (
    validate_attributes as validate_attributes,
)
from marketplace_core.catalog.records import (
    validate_price as validate_price,
)
from marketplace_core.catalog.records import (
    validate_qr_code as validate_qr_code,
)
from marketplace_core.catalog.records import (
    validate_sku as validate_sku,
)
from marketplace_core.catalog.records import (
    validate_stock as validate_stock,
)
from marketplace_core.catalog.shops import (
    create_shop as create_shop,
)
from marketplace_core.catalog.shops import (
    get_shop as get_shop,
)
from marketplace_core.catalog.shops import (
    get_shops as get_shops,
)
from marketplace_core.catalog.shops import (
    list_shops as list_shops,
)
from marketplace_core.catalog.shops import (
    merchant_of_shop as merchant_of_shop,
)
from marketplace_core.catalog.shops import (
    set_shops_payout_status as set_shops_payout_status,
)
from marketplace_core.catalog.shops import (
    shop_ids_of_merchant as shop_ids_of_merchant,
)
from marketplace_core.catalog.shops import (
    update_shop as update_shop,
)
from marketplace_core.catalog.variants import (
    count_live_variants_of_merchant as count_live_variants_of_merchant,
)
from marketplace_core.catalog.variants import (
    create_variant as create_variant,
)
from marketplace_core.catalog.variants import (
    delete_variant as delete_variant,
)
from marketplace_core.catalog.variants import (
    get_variant as get_variant,
)
from marketplace_core.catalog.variants import (
    get_variant_by_barcode as get_variant_by_barcode,
)
from marketplace_core.catalog.variants import (
    get_variant_by_qr_code as get_variant_by_qr_code,
)
from marketplace_core.catalog.variants import (
    get_variants as get_variants,
)
from marketplace_core.catalog.variants import (
    list_variants_for_product as list_variants_for_product,
)
from marketplace_core.catalog.variants import (
    list_variants_for_shop as list_variants_for_shop,
)
from marketplace_core.catalog.variants import (
    set_variant_stock as set_variant_stock,
)
from marketplace_core.catalog.variants import (
    update_variant as update_variant,
)

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
