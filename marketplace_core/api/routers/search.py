"""Product search for buyers: text (Russian, Kyrgyz, typo tolerant) plus filters."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request

from infra.settings import get_settings
from marketplace_core.ads.serving import Context as AdContext
from marketplace_core.ads.serving import market_key
from marketplace_core.api.ad_slots import hits_with_ads
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.catalog import SearchHitOut, SearchPageOut, SearchShopOut
from marketplace_core.api.schemas.common import Money, error_responses
from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.search import (
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUERY_LENGTH,
    SearchQuery,
    search_products,
)
from marketplace_core.catalog.translations import choose_language
from marketplace_core.db import Connection, transaction

router = APIRouter(tags=["search"])


@router.get(
    "/search/products", response_model=SearchPageOut,
    summary="Search live products by text and filters, best match first",
    description=(
        "`q` matches Russian and Kyrgyz names and descriptions, tolerating typos "
        "(\"смартфн\" finds \"смартфон\"). Filters: `category_id` (with its subcategories), "
        "`price_min`/`price_max` (KGS decimal strings; a product matches if one of its "
        "variants is in range), `shop_id`, and `lat`+`lon` (+ `radius_km`) for distance: "
        "results then carry `distance_km` and, without `q`, are ordered nearest first. "
        "Errors (422): SEARCH_PRICE_RANGE_INVALID, SEARCH_POINT_INCOMPLETE, "
        "SEARCH_RADIUS_WITHOUT_POINT, SEARCH_INVALID_FILTER, INVALID_LANGUAGE. "
        "Sponsored products (ads) sit at the ADS_SEARCH_SLOTS positions with `ad` set."),
    responses=error_responses(422),
)
def search(
    request: Request,
    pool: Pool,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH, examples=["смартфон"])] = None,
    category_id: UUID | None = None,
    price_min: Annotated[Money | None, Query(examples=["100.00"])] = None,
    price_max: Annotated[Money | None, Query(examples=["5000.00"])] = None,
    shop_id: UUID | None = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    lang: Annotated[str | None, Query(max_length=16)] = None,
    accept_language: Annotated[str | None, Header(max_length=256)] = None,
) -> SearchPageOut:
    query = SearchQuery(
        q=q, category_id=category_id,
        price_min=Decimal(price_min) if price_min is not None else None,
        price_max=Decimal(price_max) if price_max is not None else None,
        shop_id=shop_id, lat=lat, lon=lon, radius_km=radius_km, limit=limit, offset=offset,
        lang=choose_language(lang, accept_language))
    with transaction(pool) as conn:
        page = search_products(conn, query)
        items = [SearchHitOut(
            product_id=h.product_id, name=h.name, category_id=h.category_id,
            shop=SearchShopOut(id=h.shop_id, name=h.shop_name, market=h.market),
            price_min=h.price_min, is_bundle=h.is_bundle, distance_km=h.distance_km,
            score=h.score) for h in page.items]
        if get_settings().ads_serving_enabled:
            items = hits_with_ads(conn, request, _ad_context(conn, query), items)
    return SearchPageOut(items=items, limit=page.limit, offset=page.offset,
                         has_more=page.has_more)


def _ad_context(conn: Connection, query: SearchQuery) -> AdContext:
    """What the search tells the ad selection: text, filters, place."""
    market = None
    if query.shop_id is not None:
        shop = catalog.get_shop(conn, query.shop_id)
        market = market_key(shop.market) if shop else None
    near = (query.lat, query.lon) if query.lat is not None and query.lon is not None else None
    return AdContext(
        "search", near=near, market=market, query=query.q,
        categories={query.category_id} if query.category_id else set(),
        category_filter=query.category_id, price_min=query.price_min,
        price_max=query.price_max, shop_id=query.shop_id, radius_km=query.radius_km,
        lang=query.lang)
