"""Query plans on a generated 100k-variant catalog: the filtered searches and the product
card reach products and variants through indexes, never a sequential scan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from marketplace_core.catalog.card import card_sql
from marketplace_core.catalog.search import (
    WORD_SIMILARITY_THRESHOLD,
    SearchQuery,
    build_sql,
    search_products,
    validate_query,
)
from marketplace_core.catalog.synthetic import SyntheticCatalog, generate_catalog
from marketplace_core.migrate import apply_migrations

pytestmark = pytest.mark.integration

BIG_TABLES = {"products", "product_variants"}


@pytest.fixture(scope="module")
def big(make_database: Callable[[], str]) -> Iterator[tuple[psycopg.Connection[Any],
                                                             SyntheticCatalog]]:
    dsn = make_database()
    apply_migrations(dsn)
    with psycopg.connect(dsn) as conn:
        catalog = generate_catalog(conn, products=50_000, variants_per_product=2)
        conn.commit()
        yield conn, catalog


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _plan(conn: psycopg.Connection[Any], sql: str, params: Any) -> list[dict[str, Any]]:
    with conn.transaction():
        conn.execute("select set_config('pg_trgm.word_similarity_threshold', %s, true)",
                     (WORD_SIMILARITY_THRESHOLD,))
        row = conn.execute(("explain (format json) " + sql).encode(), params).fetchone()
    assert row is not None
    return list(_nodes(row[0][0]["Plan"]))


def _seq_scans(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Relation Name"] for n in nodes
            if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in BIG_TABLES}


def _indexes(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Index Name"] for n in nodes if "Index Name" in n}


def test_filtered_searches_use_indexes(big: tuple[psycopg.Connection[Any], SyntheticCatalog]
                                       ) -> None:
    conn, catalog = big
    queries = {
        "typo": (SearchQuery(q="смартфн"), {"products_search_trgm_idx"}),
        "stem": (SearchQuery(q="наушники"), {"products_search_tsv_idx"}),
        "kyrgyz": (SearchQuery(q="кийиз тапочка", lang="ky"), {"products_search_trgm_idx"}),
        "text+category": (SearchQuery(q="курага", category_id=catalog.root_category_id),
                          {"products_search_tsv_idx"}),
        "category": (SearchQuery(category_id=catalog.leaf_category_id), set()),
        "shop": (SearchQuery(shop_id=catalog.shop_id), {"products_shop_id_idx"}),
        "price": (SearchQuery(price_min=Decimal("1000.00"), price_max=Decimal("1010.00")),
                  {"product_variants_price_idx"}),
        # shops (1,000 rows) may be read whole or through shops_lat_lon_idx: either way
        # the products come per shop
        "distance": (SearchQuery(lat=42.87, lon=74.59, radius_km=1), {"products_shop_id_idx"}),
        "text+distance": (SearchQuery(q="мёд", lat=42.87, lon=74.59, radius_km=3), set()),
    }
    for label, (query, expected) in queries.items():
        sql, params = build_sql(validate_query(query))
        nodes = _plan(conn, sql, params)
        assert not _seq_scans(nodes), (label, _seq_scans(nodes))
        assert expected <= _indexes(nodes), (label, _indexes(nodes))
        assert search_products(conn, query).items, label  # and they find something


def test_product_card_is_primary_key_lookups(big: tuple[psycopg.Connection[Any],
                                                        SyntheticCatalog]) -> None:
    conn, _ = big
    row = conn.execute("select id from products order by id limit 1 offset 1234").fetchone()
    assert row is not None
    nodes = _plan(conn, card_sql("ky"), (row[0],))
    assert not _seq_scans(nodes)
    assert {"products_pkey", "shops_pkey", "product_variants_product_id_idx"} <= _indexes(nodes)
