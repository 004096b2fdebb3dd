"""The product card: everything a buyer's product page shows, in one indexed query.

This is the hottest read of the platform, so it is one statement: the product by primary
key, its shop by primary key, the category path (a short recursive walk up by primary
key), the live variants (index on product_id) and, for a bundle, its components — the
nested parts aggregated to JSON inside Postgres (prices as text, so they stay exact).
Texts come in the requested language with Russian as the fallback, chosen in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from marketplace_core.catalog.bundles import availability_sql
from marketplace_core.catalog.translations import LANGUAGES, require_language
from marketplace_core.db import Connection


@dataclass(frozen=True)
class CardShop:
    id: UUID
    merchant_id: UUID
    name: str
    address: str | None
    phone: str | None
    lat: Decimal | None
    lon: Decimal | None
    market: str | None


@dataclass(frozen=True)
class CardCategory:
    id: UUID
    slug: str
    name: str


@dataclass(frozen=True)
class CardVariant:
    id: UUID
    sku: str
    barcode: str | None
    qr_code: str | None
    attributes: dict[str, Any]
    price: Decimal
    stock_qty: int  # a bundle's variant: how many bundles the components allow


@dataclass(frozen=True)
class CardBundleItem:
    variant_id: UUID
    product_id: UUID
    sku: str
    name: str
    attributes: dict[str, Any]
    quantity: int
    price: Decimal
    stock_qty: int  # 0 once the component is deleted


@dataclass(frozen=True)
class ProductCard:
    id: UUID
    lang: str
    name: str
    description: str | None
    category_path: list[CardCategory]  # root first
    shop: CardShop
    is_bundle: bool
    variants: list[CardVariant]
    bundle_items: list[CardBundleItem]
    created_at: datetime
    updated_at: datetime

    @property
    def price_min(self) -> Decimal | None:
        return min((v.price for v in self.variants), default=None)


def _text(column: str, lang: str) -> str:
    return f"{column}_ru" if lang == "ru" else f"coalesce({column}_{lang}, {column}_ru)"


@cache
def card_sql(lang: str) -> str:
    """The card statement for one language (`lang` comes from LANGUAGES only)."""
    assert lang in LANGUAGES
    return f"""
select p.id, {_text("p.name", lang)}, {_text("p.description", lang)}, p.is_bundle,
       p.created_at, p.updated_at,
       s.id, s.merchant_id, s.name, s.address, s.phone, s.lat, s.lon, s.market,
       (with recursive up as (
            select c.id, c.parent_id, c.slug, {_text("c.name", lang)} as name, 0 as depth
            from categories c where c.id = p.category_id
            union all
            select c.id, c.parent_id, c.slug, {_text("c.name", lang)}, up.depth + 1
            from categories c join up on c.id = up.parent_id
            where up.depth < 100)
        select json_agg(json_build_object('id', id, 'slug', slug, 'name', name)
                        order by depth desc)
        from up),
       (select json_agg(json_build_object(
                   'id', v.id, 'sku', v.sku, 'barcode', v.barcode, 'qr_code', v.qr_code,
                   'attributes', v.attributes, 'price', v.price::text,
                   'stock_qty', case when p.is_bundle then {availability_sql("p.id")}
                                     else v.stock_qty end)
                 order by v.sku)
        from product_variants v where v.product_id = p.id and v.deleted_at is null),
       (select json_agg(json_build_object(
                   'variant_id', c.id, 'product_id', c.product_id, 'sku', c.sku,
                   'name', {_text("cp.name", lang)}, 'attributes', c.attributes,
                   'quantity', bi.quantity, 'price', c.price::text,
                   'stock_qty', case when c.deleted_at is null then c.stock_qty else 0 end)
                 order by c.sku)
        from bundle_items bi
        join product_variants c on c.id = bi.component_variant_id
        join products cp on cp.id = c.product_id
        where bi.bundle_product_id = p.id)
from products p join shops s on s.id = p.shop_id
where p.id = %s and p.deleted_at is null
"""


def get_product_card(conn: Connection, product_id: UUID, lang: str = "ru") -> ProductCard | None:
    """The buyer's view of a live product in `lang` (ru fallback), or None if there is
    none. Raises INVALID_LANGUAGE for an unsupported language."""
    lang = require_language(lang)
    row = conn.execute(card_sql(lang), (product_id,)).fetchone()
    if row is None:
        return None
    (pid, name, description, is_bundle, created_at, updated_at,
     shop_id, merchant_id, shop_name, address, phone, lat, lon, market,
     path, variants, items) = row
    return ProductCard(
        id=pid, lang=lang, name=name, description=description,
        category_path=[CardCategory(UUID(c["id"]), c["slug"], c["name"]) for c in path or ()],
        shop=CardShop(shop_id, merchant_id, shop_name, address, phone, lat, lon, market),
        is_bundle=is_bundle,
        variants=[
            CardVariant(UUID(v["id"]), v["sku"], v["barcode"], v["qr_code"], v["attributes"],
                        Decimal(v["price"]), v["stock_qty"])
            for v in variants or ()
        ],
        bundle_items=[
            CardBundleItem(UUID(i["variant_id"]), UUID(i["product_id"]), i["sku"], i["name"],
                           i["attributes"], i["quantity"], Decimal(i["price"]), i["stock_qty"])
            for i in items or ()
        ],
        created_at=created_at, updated_at=updated_at,
    )
