"""Request/response models of the catalog: categories, shops, products, variants, the
product card, search and bulk import.

Translated text travels as `{"ru": ..., "ky": ..., "en": ..., "zh": ..., "kk": ...,
"uz": ...}` objects (ru required for names). Prices are decimal strings (`Money`).
In PATCH bodies a field left out is unchanged and a field sent as null is cleared.
"""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from marketplace_core.api.schemas.ad_slot import AdOut
from marketplace_core.api.schemas.common import Money, RecordOut
from marketplace_core.catalog import card, records
from marketplace_core.catalog.translations import LANGUAGES
from platform_common.validated import Int32, Int64, Number, Text
from platform_common.validated import Latitude as _Latitude
from platform_common.validated import Longitude as _Longitude

_NAME_MAX = 300
_DESCRIPTION_MAX = 10_000
MAX_STOCK = 2**31 - 1

Name = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1,
                                        max_length=_NAME_MAX)]
OptionalName = Annotated[Text | None, Field(max_length=_NAME_MAX)]
Description = Annotated[Text | None, Field(max_length=_DESCRIPTION_MAX)]
Latitude = Annotated[_Latitude, Field(examples=["42.874600"])]
Longitude = Annotated[_Longitude, Field(examples=["74.569700"])]
# bool before the numbers: JSON true stays a boolean, not 1
AttributeValue = bool | Int64 | Number | Text | None
Attributes = Annotated[dict[Text, AttributeValue], Field(
    max_length=50, examples=[{"size": "M", "color": "синий"}])]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- translations -----------------------------------------------------------------------


class _PerLanguage(BaseModel):
    """A field per language of the catalog (`LANGUAGES`), each of type `text=` and null by
    default; a field declared in the class body replaces its language's in place."""

    def __init_subclass__(cls, text: Any = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if text is None:
            return
        declared = inspect.get_annotations(cls)
        languages = {lang: declared.pop(lang, text) for lang in LANGUAGES}
        for lang in languages:
            if lang not in cls.__dict__:
                setattr(cls, lang, None)
        # pydantic collects the fields from here, after this hook
        cls.__annotations__ = {**languages, **declared}


class NameIn(_Request, _PerLanguage, text=OptionalName):
    """A name in several languages; Russian is required."""

    ru: Name = Field(examples=["Курага"])
    ky: OptionalName = Field(default=None, examples=["Өрүк кагы"])


class NamePatch(_Request, _PerLanguage, text=OptionalName):
    """Only the languages sent change; null removes a translation (not ru)."""


class DescriptionIn(_Request, _PerLanguage, text=Description):
    """A description in several languages, all optional."""


class Texts(_PerLanguage, text=str | None):
    """Text per language; null where there is no translation yet."""


def sent_texts(model: BaseModel | None) -> dict[str, str | None]:
    """The languages a request actually sent (null included)."""
    if model is None:
        return {}
    return {lang: getattr(model, lang) for lang in model.model_fields_set}


# --- categories ----------------------------------------------------------------------------


class CategoryCreate(_Request):
    slug: Text = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$", examples=["food-dried-fruits"])
    name: NameIn
    parent_id: UUID | None = None
    sort_order: Int32 = Field(default=0, ge=-1_000_000, le=1_000_000)


class CategoryPatch(_Request):
    slug: Text | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    name: NamePatch | None = None
    parent_id: UUID | None = Field(default=None, description="null: make it a root")
    sort_order: Int32 | None = Field(default=None, ge=-1_000_000, le=1_000_000)


class CategoryOut(BaseModel):
    id: UUID
    parent_id: UUID | None
    slug: str
    name: Texts
    sort_order: int


class CategoryNodeOut(CategoryOut):
    children: list[CategoryNodeOut]


# --- shops ------------------------------------------------------------------------------------


class ShopCreate(_Request):
    name: Name = Field(examples=["Бактыгүл: сухофрукты и специи"])
    address: Text | None = Field(default=None, max_length=500,
                                examples=["Ошский рынок, продуктовый ряд 12, место 4"])
    phone: Text | None = Field(default=None, max_length=32, examples=["+996 700 418 225"])
    lat: Latitude | None = None
    lon: Longitude | None = None
    market: Text | None = Field(default=None, max_length=100, examples=["Osh"])


class ShopPatch(_Request):
    name: Name | None = None
    address: Text | None = Field(default=None, max_length=500)
    phone: Text | None = Field(default=None, max_length=32)
    lat: Latitude | None = None
    lon: Longitude | None = None
    market: Text | None = Field(default=None, max_length=100)


class ShopOut(RecordOut, record=records.Shop):
    pass


# --- products and variants ----------------------------------------------------------------


class VariantIn(_Request):
    sku: Text = Field(min_length=1, max_length=64, examples=["OSH-01-1"])
    price: Money
    stock_qty: Int32 = Field(default=0, ge=0, le=MAX_STOCK,
                           description="Must be 0 (or left out) for a bundle's variant")
    barcode: Text | None = Field(default=None, max_length=32, examples=["4700001001017"],
                                description="EAN-13, EAN-8 or UPC-A; the check digit is verified")
    qr_code: Text | None = Field(default=None, max_length=2048,
                                description="An opaque QR payload scanned for this variant")
    attributes: Attributes = Field(default_factory=dict)


class BundleItemIn(_Request):
    variant_id: UUID
    quantity: Int32 = Field(ge=1, le=10_000)


class ProductCreate(_Request):
    name: NameIn
    description: DescriptionIn | None = None
    category_id: UUID | None = None
    product_ref: Text | None = Field(default=None, max_length=100,
                                    description="Your own product code (unique in the shop)")
    variants: list[VariantIn] = Field(min_length=1, max_length=100,
                                      description="A bundle has exactly one variant")
    bundle_items: list[BundleItemIn] | None = Field(
        default=None, min_length=1, max_length=50,
        description="Makes the product a bundle of these variants of the same shop")


class ProductPatch(_Request):
    name: NamePatch | None = None
    description: DescriptionIn | None = None
    category_id: UUID | None = None
    product_ref: Text | None = Field(default=None, max_length=100)
    bundle_items: list[BundleItemIn] | None = Field(default=None, min_length=1, max_length=50)


class VariantPatch(_Request):
    price: Money | None = None
    attributes: Attributes | None = Field(default=None, description="Replaces all attributes")
    sku: Text | None = Field(default=None, min_length=1, max_length=64)
    barcode: Text | None = Field(default=None, max_length=32)
    qr_code: Text | None = Field(default=None, max_length=2048)


class StockIn(_Request):
    stock_qty: Int32 = Field(ge=0, le=MAX_STOCK, description="The free stock the seller counted")


class VariantOut(RecordOut):
    id: UUID
    product_id: UUID
    shop_id: UUID
    sku: str
    barcode: str | None
    qr_code: str | None
    attributes: dict[str, Any]
    price: Money
    stock_qty: int
    updated_at: datetime


class BundleItemOut(BaseModel):
    variant_id: UUID
    quantity: int


class ProductOut(BaseModel):
    """A product as its seller manages it: every translation, live variants, bundle."""

    id: UUID
    shop_id: UUID
    category_id: UUID | None
    product_ref: str | None
    name: Texts
    description: Texts
    is_bundle: bool
    bundle_items: list[BundleItemOut]
    available_qty: int | None = Field(
        description="For a bundle: how many its components' stock allows; else null")
    variants: list[VariantOut]
    created_at: datetime
    updated_at: datetime | None


# --- product card (public) -----------------------------------------------------------------


class CardShopOut(RecordOut, record=card.CardShop):
    pass


class CardCategoryOut(RecordOut, record=card.CardCategory):
    pass


class CardVariantOut(RecordOut, record=card.CardVariant):
    price: Money
    stock_qty: int = Field(description="Free stock; for a bundle, how many bundles are available")


class CardBundleItemOut(RecordOut, record=card.CardBundleItem):
    price: Money


class ProductCardOut(RecordOut):
    """The buyer's product page in one language (Russian where a translation is missing)."""

    id: UUID
    lang: str = Field(examples=["ky"])
    name: str
    description: str | None
    category_path: list[CardCategoryOut] = Field(description="Root first")
    shop: CardShopOut
    is_bundle: bool
    price_min: Money | None
    variants: list[CardVariantOut]
    bundle_items: list[CardBundleItemOut]
    created_at: datetime
    updated_at: datetime


# --- search ------------------------------------------------------------------------------------


class SearchShopOut(BaseModel):
    id: UUID
    name: str
    market: str | None


class SearchHitOut(BaseModel):
    product_id: UUID
    name: str
    category_id: UUID | None
    shop: SearchShopOut
    price_min: Money = Field(description="The lowest price among matching variants")
    is_bundle: bool
    distance_km: float | None = Field(description="From lat/lon when given")
    score: float = Field(description="Text relevance (0 without q)")
    ad: AdOut | None = Field(default=None,
                             description="Set when the item is a sponsored product")


class SearchPageOut(BaseModel):
    items: list[SearchHitOut]
    limit: int
    offset: int
    has_more: bool


# --- import ---------------------------------------------------------------------------------


class ImportResultOut(BaseModel):
    rows: int
    products_created: int
    products_updated: int
    variants_created: int
    variants_updated: int
    variants_unchanged: int


class ImportProblem(BaseModel):
    """One entry of an IMPORT_REJECTED error's `details`."""

    row: int | None = Field(description="The file's row (header = 1); null: the whole file")
    column: str | None
    code: str = Field(examples=["INVALID_BARCODE"])
    message: str
