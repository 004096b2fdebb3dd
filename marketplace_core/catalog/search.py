"""Product search: Russian and Kyrgyz text, typo tolerant, with filters and distance.

Text matching combines two indexed predicates (a BitmapOr of two GIN indexes):
* full text — `products.search_tsv` (the `simple` configuration keeps Kyrgyz and Russian
  words as written, `russian` adds stems) against the query parsed both ways;
* trigrams — `query <% products.search_text` (the Russian and Kyrgyz names; pg_trgm word
  similarity ≥ 0.5), which finds "смартфон" for "смартфн", "чехол" for "чехлы" and Kyrgyz
  words with a typo, without any stemmer.
Results are ranked by ts_rank_cd + word_similarity.

Filters: category (with its subtree), price range (over live variants: a product matches
when one of its variants is in range; its shown price is the lowest such variant),
shop, and distance from a point (a lat/lon bounding box on the shops index first, then
the haversine; results carry distance_km).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog.translations import DEFAULT_LANGUAGE, require_language
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError
from platform_common.money import is_whole_cents

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LAT = 111.045
MAX_RADIUS_KM = 1000.0
MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_QUERY_LENGTH = 200
# pg_trgm's default (0.6) misses one-letter typos in short words ("чехлы" → "чехол": 0.5)
WORD_SIMILARITY_THRESHOLD = "0.5"


@dataclass(frozen=True)
class SearchQuery:
    q: str | None = None
    category_id: UUID | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    shop_id: UUID | None = None
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    limit: int = 20
    offset: int = 0
    lang: str = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class SearchHit:
    product_id: UUID
    name: str
    category_id: UUID | None
    shop_id: UUID
    shop_name: str
    market: str | None
    price_min: Decimal
    is_bundle: bool
    distance_km: float | None
    score: float


@dataclass(frozen=True)
class SearchPage:
    items: list[SearchHit]
    limit: int
    offset: int
    has_more: bool


def _invalid(code: ErrorCode, message: str) -> ValidationError:
    return ValidationError(code, message)


def _check_price(value: Decimal | None, name: str) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise _invalid(ErrorCode.SEARCH_INVALID_FILTER, f"{name} must be a non-negative amount")
    if not is_whole_cents(value):
        raise _invalid(ErrorCode.SEARCH_INVALID_FILTER, f"{name} has more than 2 decimals")
    return value


def _finite(value: float | None, name: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not math.isfinite(value) or not low <= value <= high:
        raise _invalid(ErrorCode.SEARCH_INVALID_FILTER, f"{name} must be within {low}..{high}")
    return float(value)


def validate_query(query: SearchQuery) -> SearchQuery:
    """The query with cleaned values; raises SEARCH_* (422) for contradictory filters."""
    q = (query.q or "").strip() or None
    if q is not None and len(q) > MAX_QUERY_LENGTH:
        raise _invalid(ErrorCode.SEARCH_INVALID_FILTER,
                       f"q is longer than {MAX_QUERY_LENGTH} characters")
    price_min = _check_price(query.price_min, "price_min")
    price_max = _check_price(query.price_max, "price_max")
    if price_min is not None and price_max is not None and price_min > price_max:
        raise _invalid(ErrorCode.SEARCH_PRICE_RANGE_INVALID, "price_min is above price_max")
    lat = _finite(query.lat, "lat", -90, 90)
    lon = _finite(query.lon, "lon", -180, 180)
    if (lat is None) != (lon is None):
        raise _invalid(ErrorCode.SEARCH_POINT_INCOMPLETE, "give both lat and lon, or neither")
    radius = _finite(query.radius_km, "radius_km", 0, MAX_RADIUS_KM)
    if radius is not None and lat is None:
        raise _invalid(ErrorCode.SEARCH_RADIUS_WITHOUT_POINT, "radius_km needs lat and lon")
    if radius is not None and radius <= 0:
        raise _invalid(ErrorCode.SEARCH_INVALID_FILTER, "radius_km must be positive")
    if isinstance(query.limit, bool) or not 1 <= query.limit <= MAX_LIMIT:
        raise _invalid(ErrorCode.SEARCH_INVALID_FILTER, f"limit must be 1..{MAX_LIMIT}")
    if isinstance(query.offset, bool) or not 0 <= query.offset <= MAX_OFFSET:
        raise _invalid(ErrorCode.SEARCH_INVALID_FILTER, f"offset must be 0..{MAX_OFFSET}")
    return SearchQuery(q, query.category_id, price_min, price_max, query.shop_id, lat, lon,
                       radius, query.limit, query.offset, require_language(query.lang))


_HAVERSINE = (
    "(%(earth)s * 2 * asin(least(1, sqrt("
    " power(sin(radians(s.lat::float8 - %(lat)s) / 2), 2)"
    " + cos(radians(%(lat)s)) * cos(radians(s.lat::float8))"
    " * power(sin(radians(s.lon::float8 - %(lon)s) / 2), 2)))))"
)


def _degrees(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def build_sql(query: SearchQuery) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of a validated query (for EXPLAIN and for running)."""
    lang = query.lang
    name = "p.name_ru" if lang == "ru" else f"coalesce(p.name_{lang}, p.name_ru)"
    params: dict[str, Any] = {"limit": query.limit + 1, "offset": query.offset}
    where = ["p.deleted_at is null"]
    price_cond = ""
    if query.price_min is not None:
        price_cond += " and v.price >= %(price_min)s"
        params["price_min"] = query.price_min
    if query.price_max is not None:
        price_cond += " and v.price <= %(price_max)s"
        params["price_max"] = query.price_max
    if price_cond and query.q is None and query.shop_id is None:
        # lets the planner start from the variants' price index when nothing else narrows
        # (with a text or a shop, the lateral below checks the price of the few candidates;
        # this semi-join then hashed every variant in range first: 20+ ms)
        where.append("p.id in (select v.product_id from product_variants v"
                     f" where v.deleted_at is null{price_cond})")
    rank = "0::float8"
    if query.q is not None:
        params["q"] = query.q
        where.append("(p.search_tsv @@ (websearch_to_tsquery('russian', %(q)s)"
                     " || websearch_to_tsquery('simple', %(q)s))"
                     " or %(q)s <%% p.search_text)")
        rank = ("(ts_rank_cd(p.search_tsv, websearch_to_tsquery('russian', %(q)s)"
                " || websearch_to_tsquery('simple', %(q)s))"
                " + word_similarity(%(q)s, p.search_text))::float8")
    if query.category_id is not None:
        params["category_id"] = query.category_id
        # an array computed once (an InitPlan), so the filter applies while scanning the
        # products; as `in (subquery)` it became a semi-join after the ranking
        where.append("""p.category_id = any(array(
            with recursive sub as (
                select id, 0 as depth from categories where id = %(category_id)s
                union all
                select c.id, sub.depth + 1 from categories c join sub on c.parent_id = sub.id
                where sub.depth < 100)
            select id from sub))""")
    if query.shop_id is not None:
        params["shop_id"] = query.shop_id
        where.append("p.shop_id = %(shop_id)s")
    distance = "null::float8"
    if query.lat is not None and query.lon is not None:
        params.update(lat=query.lat, lon=query.lon, earth=EARTH_RADIUS_KM)
        distance = _HAVERSINE
        if query.radius_km is not None:
            dlat = query.radius_km / KM_PER_DEGREE_LAT
            dlon = query.radius_km / (KM_PER_DEGREE_LAT
                                      * max(math.cos(math.radians(query.lat)), 0.01))
            # numeric bounds (like the columns), so the shops (lat, lon) index applies
            params.update(
                lat_lo=_degrees(query.lat - dlat), lat_hi=_degrees(query.lat + dlat),
                lon_lo=_degrees(query.lon - dlon), lon_hi=_degrees(query.lon + dlon),
                radius=query.radius_km)
            where.append("s.lat between %(lat_lo)s and %(lat_hi)s"
                         " and s.lon between %(lon_lo)s and %(lon_hi)s"
                         f" and {_HAVERSINE} <= %(radius)s")
    if query.q is not None:
        order = "score desc, distance_km nulls last, id"
    elif query.lat is not None:
        order = "distance_km nulls last, id"
    else:
        order = "created_at desc, id"
    # The candidates are ranked and sorted first (`offset 0` keeps the subquery from being
    # flattened), and the variants' price is looked up only for them in that order until a
    # page is full: computed for every candidate before the sort, it was most of the time of
    # a common word or a 5 km radius (thousands of lookups for 21 rows).
    sql = f"""
select c.id, c.name, c.category_id, c.shop_id, c.shop_name, c.market, pr.price_min,
       c.is_bundle, c.distance_km, c.score
from (
    select p.id, {name} as name, p.category_id, p.shop_id, s.name as shop_name, s.market,
           p.is_bundle, p.created_at, {distance} as distance_km, {rank} as score
    from products p
    join shops s on s.id = p.shop_id
    where {" and ".join(where)}
    order by {order}
    offset 0) c
cross join lateral (
    select min(v.price) as price_min from product_variants v
    where v.product_id = c.id and v.deleted_at is null{price_cond}) pr
where pr.price_min is not null
order by {order}
limit %(limit)s offset %(offset)s
"""
    return sql, params


def search_products(conn: Connection, query: SearchQuery) -> SearchPage:
    """One page of live products matching `query`, best first. Raises SEARCH_* and
    INVALID_LANGUAGE (422) for bad filters."""
    query = validate_query(query)
    sql, params = build_sql(query)
    with conn.transaction():
        if query.q is not None:
            # local to the transaction: other statements keep the server's setting
            conn.execute("select set_config('pg_trgm.word_similarity_threshold', %s, true)",
                         (WORD_SIMILARITY_THRESHOLD,))
            # The planner underestimates how selective the text indexes are and falls back
            # to a parallel scan computing word_similarity on every product (about 200 ms
            # at 25k products against 20-30 ms through the GIN indexes; bench/).
            conn.execute("set local enable_seqscan = off")
        # No parallel plan: with it the planner divided the cost of filtering every product
        # by the workers and walked all 25k products in created_at order (150-300 ms)
        # instead of the GIN bitmaps (7-50 ms); and each search launching a worker process
        # costs more than it shares on a few cores at 50 searches/s (bench/, issue 11 §4).
        conn.execute("set local max_parallel_workers_per_gather = 0")
        # nor JIT: the trigram operators' declared cost (0009) lifts these plans above
        # jit_above_cost, and compiling took ~40 ms of a ~80 ms search
        conn.execute("set local jit = off")
        # Never a prepared statement: after 5 runs psycopg would prepare it and Postgres
        # may switch to a generic plan built without the filter values, which for text +
        # category + price searches was 10-20x slower than the custom plan (bench/).
        rows = conn.execute(sql.encode(), params, prepare=False).fetchall()
    hits = [
        SearchHit(
            product_id=r[0], name=r[1], category_id=r[2], shop_id=r[3], shop_name=r[4],
            market=r[5], price_min=r[6], is_bundle=r[7],
            distance_km=round(r[8], 3) if r[8] is not None else None, score=float(r[9]),
        )
        for r in rows[: query.limit]
    ]
    return SearchPage(hits, query.limit, query.offset, len(rows) > query.limit)
