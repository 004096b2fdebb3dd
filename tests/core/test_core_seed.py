"""The demo marketplace seed: valid data, idempotent, deterministic."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.barcodes import is_valid_ean13
from marketplace_core.db import open_pool
from marketplace_core.migrate import apply_migrations
from marketplace_core.pos import service as pos
from marketplace_core.seed import SHOPS, SeedSummary, seed_demo_marketplace

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seeded(make_database: Callable[[], str]) -> tuple[str, SeedSummary]:
    dsn = make_database()
    apply_migrations(dsn)
    pool = open_pool(dsn, max_size=2)
    try:
        return dsn, seed_demo_marketplace(pool, seed=42)
    finally:
        pool.close()


def _fresh_seed(make_database: Callable[[], str], seed: int) -> SeedSummary:
    dsn = make_database()
    apply_migrations(dsn)
    with psycopg.connect(dsn) as conn:
        return seed_demo_marketplace(conn, seed=seed)


def test_summary_shape(seeded: tuple[str, SeedSummary]) -> None:
    _, summary = seeded
    assert summary.seed == 42
    assert len(summary.shops) == len(SHOPS) == 6
    assert {s.market for s in summary.shops} == {
        "Dordoi", "Osh", "Bishkek Park", "Asia Mall", "TSUM", "Vefa"}
    assert [d.id for d in summary.devices] == [f"POS-{n:04d}" for n in range(1, 7)]
    assert [d.shop_id for d in summary.devices] == [s.id for s in summary.shops]
    assert summary.created["shops"] == 6 and summary.created["devices"] == 6
    assert summary.created["variants"] == sum(len(s.variants) for s in summary.shops)
    assert set(summary.variants_by_shop) == {s.id for s in summary.shops}


def test_seeded_data_is_plausible(seeded: tuple[str, SeedSummary]) -> None:
    dsn, summary = seeded
    barcodes: set[str] = set()
    with psycopg.connect(dsn) as conn:
        for shop in summary.shops:
            row = catalog.get_shop(conn, shop.id)
            assert row is not None and row.lat is not None and row.lon is not None
            # inside greater Bishkek
            assert Decimal("42.80") < row.lat < Decimal("42.97")
            assert Decimal("74.50") < row.lon < Decimal("74.70")
            variants = catalog.list_variants_for_shop(conn, shop.id)
            assert sorted(v.id for v in variants) == sorted(v.id for v in shop.variants)
            per_product: dict[object, int] = {}
            for v in variants:
                per_product[v.product_id] = per_product.get(v.product_id, 0) + 1
                assert v.barcode is not None and v.barcode.startswith("470")
                assert is_valid_ean13(v.barcode)
                assert isinstance(v.price, Decimal) and v.price == v.price.quantize(
                    Decimal("0.01")) and v.price > 0
                assert v.stock_qty > 0
                product = catalog.get_product(conn, v.product_id)
                assert product is not None and product.name_ky and product.category_id
                barcodes.add(v.barcode)
            assert len(per_product) == 8
            assert all(1 <= n <= 3 for n in per_product.values())
        for device in summary.devices:
            got = pos.get_device(conn, device.id)
            assert got is not None and got.shop_id == device.shop_id
        assert catalog.get_category_by_slug(conn, "food-honey") is not None
    assert len(barcodes) == sum(len(s.variants) for s in summary.shops)


def test_second_run_creates_nothing(seeded: tuple[str, SeedSummary]) -> None:
    dsn, first = seeded
    with psycopg.connect(dsn) as conn:
        counts_before = conn.execute(
            "select (select count(*) from product_variants), (select count(*) from shops),"
            " (select count(*) from pos_devices), (select count(*) from categories)"
        ).fetchone()
        again = seed_demo_marketplace(conn, seed=42)
        # even a different seed changes nothing that exists
        other_seed = seed_demo_marketplace(conn, seed=7)
        counts_after = conn.execute(
            "select (select count(*) from product_variants), (select count(*) from shops),"
            " (select count(*) from pos_devices), (select count(*) from categories)"
        ).fetchone()
    assert again.created_total == 0 and other_seed.created_total == 0
    assert again == first
    assert other_seed.shops == first.shops
    assert counts_after == counts_before


def test_same_seed_same_marketplace_anywhere(
    seeded: tuple[str, SeedSummary], make_database: Callable[[], str]
) -> None:
    _, first = seeded
    assert _fresh_seed(make_database, 42) == first


def test_other_seed_same_ids_other_prices(
    seeded: tuple[str, SeedSummary], make_database: Callable[[], str]
) -> None:
    _, first = seeded
    other = _fresh_seed(make_database, 7)
    assert [s.id for s in other.shops] == [s.id for s in first.shops]
    ids = [v.id for s in first.shops for v in s.variants]
    assert [v.id for s in other.shops for v in s.variants] == ids
    prices_42 = [v.price for s in first.shops for v in s.variants]
    prices_7 = [v.price for s in other.shops for v in s.variants]
    assert prices_42 != prices_7
