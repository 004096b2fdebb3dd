"""The simulated marketplace as plain data: merchants, their shops at real Bishkek markets,
the goods (SKUs) each shop carries, and the POS terminals.

`build_world(seed, ...)` is a pure function of its arguments (one `random.Random` seeded
from them, drawn in a fixed order), so the same seed always gives the same world, down to
every barcode and price. Nothing here talks to the core; `seeding.py` does that.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from platform_common.gs1 import gs1_check_digit
from platform_common.money import to_cents_half_even
from pos_producer.simulator import catalog_data as data
from pos_producer.simulator.catalog_data import Goods, Market

FREE_PLAN_SKU_LIMIT = 50  # subscription_plans.sku_limit of FREE (migration 0008)
DEFAULT_MERCHANTS = 110
DEFAULT_SKUS = 600
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class VariantSpec:
    sku: str
    barcode: str  # EAN-13
    price: Decimal  # KGS, 2 decimals
    stock: int
    attributes: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class ProductSpec:
    ref: str  # product_ref, unique in the shop
    category: str | None  # a category slug (resolved to an id if the core has it)
    name_ru: str
    name_ky: str
    variants: tuple[VariantSpec, ...]


@dataclass(frozen=True)
class ShopSpec:
    key: str  # stable within the world, e.g. "m007s2"
    merchant_key: str
    name: str
    market: str  # Market.key
    department: str
    address: str
    phone: str
    lat: Decimal  # 6 decimals
    lon: Decimal
    products: tuple[ProductSpec, ...]

    @property
    def variants(self) -> tuple[VariantSpec, ...]:
        return tuple(v for p in self.products for v in p.variants)


@dataclass(frozen=True)
class MerchantSpec:
    key: str
    name: str  # legal name: "ИП Асанова А. К." or "ОсОО «…»"
    owner_name: str
    phone: str
    language: str  # the seller's preferred language
    payout_provider: str  # elsom | mbank | bank
    payout_account: str
    payout_bank: str | None
    shops: tuple[ShopSpec, ...]

    @property
    def sku_count(self) -> int:
        return sum(len(s.variants) for s in self.shops)

    @property
    def needs_paid_plan(self) -> bool:
        """More SKUs than FREE allows: the seller takes the PRO trial before adding them."""
        return self.sku_count > FREE_PLAN_SKU_LIMIT


@dataclass(frozen=True)
class DeviceSpec:
    key: str  # e.g. "m007s2-pos1"
    shop_key: str
    firmware_version: str


@dataclass(frozen=True)
class World:
    seed: int
    merchants: tuple[MerchantSpec, ...]

    @property
    def shops(self) -> tuple[ShopSpec, ...]:
        return tuple(s for m in self.merchants for s in m.shops)

    @property
    def variants(self) -> tuple[VariantSpec, ...]:
        return tuple(v for s in self.shops for v in s.variants)

    def shop(self, key: str) -> ShopSpec:
        for s in self.shops:
            if s.key == key:
                return s
        raise KeyError(key)

    def devices(self, count: int) -> tuple[DeviceSpec, ...]:
        """`count` terminals: one per shop in world order; beyond that a second, third...
        till in the shops with the most SKUs (fewer than shops: only the first shops)."""
        shops = self.shops
        by_size = sorted(shops, key=lambda s: (-len(s.variants), s.key))
        out: list[DeviceSpec] = []
        per_shop: Counter[str] = Counter()
        i = 0
        while len(out) < count:
            shop = shops[i] if i < len(shops) else by_size[(i - len(shops)) % len(by_size)]
            per_shop[shop.key] += 1
            n = per_shop[shop.key]
            firmware = ("2.4.1", "2.4.1", "2.5.0", "2.3.7")[(i * 7 + n) % 4]
            out.append(DeviceSpec(f"{shop.key}-pos{n}", shop.key, firmware))
            i += 1
        return tuple(out)

    def summary(self) -> dict[str, Any]:
        markets = Counter(s.market for s in self.shops)
        return {"seed": self.seed, "merchants": len(self.merchants), "shops": len(self.shops),
                "skus": len(self.variants), "by_market": dict(sorted(markets.items())),
                "paid_plan_merchants": sum(m.needs_paid_plan for m in self.merchants)}


# --- drawing -----------------------------------------------------------------------------


def ean13(rng: random.Random, origin: str, taken: set[str]) -> str:
    """A fresh valid EAN-13 in the GS1 range of `origin`, not in `taken` (added to it)."""
    while True:
        prefix = rng.choice(data.ORIGIN_PREFIXES[origin])
        body = prefix + "".join(str(rng.randrange(10)) for _ in range(12 - len(prefix)))
        code = body + str(gs1_check_digit(body))
        if code not in taken:
            taken.add(code)
            return code


def price_tag(rng: random.Random, goods: Goods) -> Decimal:
    """A shelf price drawn in the goods' range, on its step."""
    steps = (goods.price_hi - goods.price_lo) // goods.step
    return Decimal(goods.price_lo + goods.step * rng.randint(0, steps))


def on_step(value: Decimal, step: int) -> Decimal:
    """`value` rounded to the price step ("1 490" rather than "1 487.31")."""
    price = (value / step).to_integral_value() * step
    if step >= 100 and price > 1000:
        price -= 10  # 1 490, 2 990: the bazaar's favourite endings
    return to_cents_half_even(max(price, Decimal(step)))


def _stock_for(rng: random.Random, price: Decimal) -> int:
    if price >= 5000:
        return rng.randint(2, 12)
    if price >= 1000:
        return rng.randint(6, 40)
    return rng.randint(20, 150)


def point_in(rng: random.Random, market: Market) -> tuple[Decimal, Decimal]:
    """A uniformly drawn point within the market's footprint (a disc of radius_m)."""
    r = market.radius_m * math.sqrt(rng.random())
    theta = rng.random() * 2 * math.pi
    dlat = r * math.sin(theta) / _METRES_PER_DEGREE
    dlon = r * math.cos(theta) / (_METRES_PER_DEGREE * math.cos(math.radians(market.lat)))
    q = Decimal("0.000001")
    return (Decimal(repr(market.lat + dlat)).quantize(q),
            Decimal(repr(market.lon + dlon)).quantize(q))


def phone(rng: random.Random) -> str:
    return (f"+996 {rng.choice(data.PHONE_CODES)} {rng.randint(100, 999)} "
            f"{rng.randint(0, 999):03d}")


def _weighted(rng: random.Random, pairs: tuple[tuple[Any, float], ...]) -> Any:
    values = [v for v, _ in pairs]
    return rng.choices(values, weights=[w for _, w in pairs])[0]


def _shop_products(rng: random.Random, department: str, size: int,
                   taken: set[str]) -> tuple[ProductSpec, ...]:
    """`size` SKUs of the department's goods: lines in a random order, each with some of
    its axis values; a line seen again becomes another article of it."""
    lines = [g for g in data.GOODS if g.department == department]
    rng.shuffle(lines)
    products: list[ProductSpec] = []
    left = size
    n = 0
    while left > 0:
        goods = lines[n % len(lines)]
        n += 1
        attribute, values = goods.axis
        pick = rng.randint(1, len(values)) if attribute else 1
        pick = min(pick, left)
        chosen = sorted(rng.sample(range(len(values)), pick))
        origin = rng.choice(goods.origins)
        base_price = price_tag(rng, goods)
        ref = f"{goods.code}{n:02d}"
        variants = []
        for j in chosen:
            value, factor = values[j]
            price = on_step(base_price * factor, goods.step)
            variants.append(VariantSpec(
                sku=f"{ref}-{j + 1}", barcode=ean13(rng, origin, taken), price=price,
                stock=_stock_for(rng, price),
                attributes={attribute: value} if attribute else {}))
        article = "" if n <= len(lines) else f", арт. {rng.randint(100, 999)}"
        products.append(ProductSpec(ref, goods.category, goods.name_ru + article,
                                    goods.name_ky + article, tuple(variants)))
        left -= pick
    return tuple(products)


def _shop_sizes(rng: random.Random, weights: list[float], total: int) -> list[int]:
    """Split `total` SKUs over shops in proportion to their weights (each at least 1)."""
    raw = [total * w / sum(weights) for w in weights]
    sizes = [max(1, int(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    k = 0
    while sum(sizes) < total:
        sizes[order[k % len(order)]] += 1
        k += 1
    return sizes


def build_world(seed: int, *, merchants: int = DEFAULT_MERCHANTS,
                skus: int = DEFAULT_SKUS) -> World:
    """A deterministic marketplace of `merchants` merchants (1-3 shops each) carrying
    `skus` SKUs in total (at least one per shop)."""
    if merchants < 1:
        raise ValueError("at least one merchant")
    rng = random.Random(f"bishkek-world:{seed}")
    market_weights = tuple((m, m.weight) for m in data.MARKETS)
    # 1) who the merchants are and where their shops stand
    drafts: list[dict[str, Any]] = []
    for i in range(merchants):
        female = rng.random() < 0.55
        first = rng.choice(data.FIRST_NAMES_F if female else data.FIRST_NAMES_M)
        surname = rng.choice(data.SURNAMES) + ("а" if female else "")
        initials = f"{rng.choice('АБГДЖКМНСТЭ')}. {rng.choice('АБКМНСТЭ')}."
        n_shops = _weighted(rng, ((1, 0.85), (2, 0.10), (3, 0.05)))
        first_market: Market = _weighted(rng, market_weights)
        department = _weighted(rng, first_market.specialties)
        chain = n_shops > 1
        name = (f"ОсОО «{rng.choice(data.SHOP_NAME_PATTERNS[department]).format(name=first)}»"
                if chain else f"ИП {surname} {initials}")
        markets = [first_market]
        while len(markets) < n_shops:  # a chain's other shops: other places, same trade
            candidates = [m for m in data.MARKETS if m not in markets
                          and department in dict(m.specialties)]
            markets.append(rng.choice(candidates or [m for m in data.MARKETS
                                                     if m not in markets]))
        drafts.append({"key": f"m{i + 1:03d}", "first": first, "owner": f"{first} {surname}",
                       "name": name, "department": department, "markets": markets,
                       "chain": chain, "phone": phone(rng)})
    # 2) how many SKUs each shop carries: chains and malls' big stores carry more
    shop_weights = [rng.lognormvariate(0, 0.6) * (4.0 if d["chain"] else 1.0)
                    for d in drafts for _ in d["markets"]]
    sizes = iter(_shop_sizes(rng, shop_weights, max(skus, len(shop_weights))))
    # 3) the shops with their goods
    taken: set[str] = set()
    built: list[MerchantSpec] = []
    for d in drafts:
        shops = []
        for k, market in enumerate(d["markets"], start=1):
            lat, lon = point_in(rng, market)
            pattern = rng.choice(data.SHOP_NAME_PATTERNS[d["department"]])
            address = market.address.format(row=rng.randint(1, 40), n=rng.randint(1, 400),
                                             floor=rng.randint(1, 4))
            shops.append(ShopSpec(
                key=f"{d['key']}s{k}", merchant_key=d["key"],
                name=pattern.format(name=d["first"]) + (f" ({market.name})" if d["chain"]
                                                         else ""),
                market=market.key, department=d["department"], address=address,
                phone=phone(rng), lat=lat, lon=lon,
                products=_shop_products(rng, d["department"], next(sizes), taken)))
        provider = _weighted(rng, (("elsom", 0.4), ("mbank", 0.4), ("bank", 0.2)))
        account = (d["phone"].replace(" ", "") if provider != "bank"
                   else "1" + "".join(str(rng.randrange(10)) for _ in range(15)))
        built.append(MerchantSpec(
            key=d["key"], name=d["name"], owner_name=d["owner"], phone=d["phone"],
            language=_weighted(rng, (("ru", 0.6), ("ky", 0.4))), payout_provider=provider,
            payout_account=account,
            payout_bank=rng.choice(data.PAYOUT_BANKS) if provider == "bank" else None,
            shops=tuple(shops)))
    return World(seed=seed, merchants=tuple(built))


def market(key: str) -> Market:
    for m in data.MARKETS:
        if m.key == key:
            return m
    raise KeyError(key)
