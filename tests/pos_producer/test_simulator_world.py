"""The simulated world: deterministic for a seed, big enough, real places, valid codes."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal

from marketplace_core.catalog.barcodes import is_valid_ean13
from pos_producer.simulator import catalog_data as data
from pos_producer.simulator.world import FREE_PLAN_SKU_LIMIT, build_world, market

# Landmarks the markets must sit near (independent of catalog_data), within 1.5 km.
LANDMARKS = {
    "dordoi": (42.937, 74.622), "osh": (42.875, 74.566), "alamedin": (42.885, 74.638),
    "orto-sai": (42.838, 74.614), "tsum": (42.876, 74.614), "bishkek-park": (42.875, 74.590),
    "asia-mall": (42.855, 74.586), "vefa": (42.857, 74.609), "madina": (42.884, 74.571),
    "tash-rabat": (42.854, 74.604), "dordoi-plaza": (42.875, 74.619),
}


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def test_same_seed_same_world_other_seed_other_world() -> None:
    assert build_world(42) == build_world(42)
    assert build_world(42) != build_world(43)
    assert build_world(7, merchants=5, skus=40) == build_world(7, merchants=5, skus=40)


def test_default_world_is_big_enough() -> None:
    world = build_world(42)
    assert len(world.merchants) >= 100
    assert all(m.shops for m in world.merchants)
    assert len(world.shops) >= 100
    assert len(world.variants) >= 500
    assert {s.market for s in world.shops} == {m.key for m in data.MARKETS}
    assert {s.department for s in world.shops} == set(data.DEPARTMENTS)


def test_every_barcode_is_a_valid_unique_ean13_with_real_prefixes() -> None:
    world = build_world(42)
    codes = [v.barcode for v in world.variants]
    assert all(is_valid_ean13(c) for c in codes)
    assert len(set(codes)) == len(codes)
    prefixes = {p for ps in data.ORIGIN_PREFIXES.values() for p in ps}
    assert all(c[:3] in prefixes for c in codes)
    assert sum(c.startswith("470") for c in codes) > len(codes) // 5  # made in Kyrgyzstan


def test_skus_prices_and_stock_are_plausible() -> None:
    world = build_world(42)
    for shop in world.shops:
        skus = [v.sku for v in shop.variants]
        assert len(set(skus)) == len(skus)
        assert len({p.ref for p in shop.products}) == len(shop.products)
        for p in shop.products:
            assert p.name_ru and p.name_ky
    for v in world.variants:
        assert v.price > 0 and v.price == v.price.quantize(Decimal("0.01"))
        assert v.stock > 0
    by_code = {g.code: g for g in data.GOODS}
    for p in (p for s in world.shops for p in s.products):
        goods = by_code[p.ref[:4]]
        for v in p.variants:  # within the range (axis factors allowed up to ×4.7)
            assert goods.price_lo * Decimal("0.5") <= v.price <= goods.price_hi * 5
    kalpak = [v.price for s in world.shops for p in s.products if p.ref.startswith("KLPK")
              for v in p.variants]
    assert all(Decimal(1000) <= p <= Decimal(3500) for p in kalpak)


def test_shops_stand_inside_their_markets_in_bishkek() -> None:
    world = build_world(42)
    b = data.BISHKEK_BOUNDS
    for shop in world.shops:
        lat, lon = float(shop.lat), float(shop.lon)
        assert b["lat_min"] < lat < b["lat_max"] and b["lon_min"] < lon < b["lon_max"]
        m = market(shop.market)
        assert _metres(m.lat, m.lon, lat, lon) <= m.radius_m + 1
        assert _metres(*LANDMARKS[m.key], lat, lon) < 1500
        assert shop.phone.startswith("+996 ") and len(shop.phone.replace(" ", "")) == 13
    # shops of one market are spread, not stacked on one point
    dordoi = {(s.lat, s.lon) for s in world.shops if s.market == "dordoi"}
    assert len(dordoi) == sum(s.market == "dordoi" for s in world.shops)


def test_sku_limits_of_the_free_plan_are_respected_or_upgraded() -> None:
    world = build_world(42)
    big = [m for m in world.merchants if m.sku_count > FREE_PLAN_SKU_LIMIT]
    assert all(m.needs_paid_plan for m in big)
    assert not any(m.needs_paid_plan for m in world.merchants if m not in big)


def test_small_world_and_devices() -> None:
    world = build_world(7, merchants=5, skus=40)
    assert len(world.merchants) == 5 and len(world.variants) == 40
    devices = world.devices(8)
    assert len({d.key for d in devices}) == 8
    per_shop = Counter(d.shop_key for d in devices)
    assert set(per_shop) == {s.key for s in world.shops}  # every shop has a till first
    assert world.devices(8) == devices
    assert len(world.devices(2)) == 2
