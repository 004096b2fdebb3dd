"""A small, real-looking Bishkek marketplace for local runs and the POS pipeline.

`seed_demo_marketplace` creates six shops at well-known trading places (Dordoi and Osh
bazaars, Bishkek Park, Asia Mall, TSUM, Vefa), a category tree in Russian and Kyrgyz,
eight products per shop with 1-3 variants, EAN-13 barcodes in Kyrgyzstan's GS1 range
(470), KGS prices, stock, and one POS terminal per shop (POS-0001 ... POS-0006).

Deterministic and idempotent:
* every id is a uuid5 of a natural key (shop slug, category slug, shop + SKU...), so the
  same rows get the same ids in any database and a second run finds them all;
* `seed` only drives the random values (prices among each item's price points, stock),
  drawn in a fixed order whether or not a row already exists;
* rows that exist are left as they are (a later run with another seed changes nothing);
  the summary always reports what the database holds.

It goes through the domain services only; it owns no tables.

    python -m marketplace_core.seed [--seed 42]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

import psycopg
from psycopg_pool import ConnectionPool

from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.barcodes import KYRGYZSTAN_GS1_PREFIX, ean13_with_check
from marketplace_core.db import Connection, advisory_xact_lock, transaction
from marketplace_core.pos import service as pos

# Fixed namespace for the demo data's uuid5 ids. Never change it: ids would all move.
SEED_NAMESPACE = UUID("70d58001-9fbf-4a0a-b406-04910a892e26")
_SEED_LOCK_KEY = 0x62617A616173  # serialises concurrent seed runs on one database
DEFAULT_FIRMWARE = "2.4.1"


def seed_uuid(kind: str, *natural_key: str) -> UUID:
    """The demo id of the `kind` row with this natural key, e.g. ('shop', 'dordoi-aigul')."""
    return uuid5(SEED_NAMESPACE, "/".join((kind, *natural_key)))


# --- the data -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cat:
    slug: str
    name_ru: str
    name_ky: str
    parent: str | None = None


CATEGORIES: tuple[_Cat, ...] = (
    _Cat("clothing", "Одежда", "Кийим"),
    _Cat("clothing-women", "Женская одежда", "Аялдар кийими", "clothing"),
    _Cat("clothing-men", "Мужская одежда", "Эркектер кийими", "clothing"),
    _Cat("clothing-kids", "Детская одежда", "Балдар кийими", "clothing"),
    _Cat("food", "Продукты", "Азык-түлүк"),
    _Cat("food-dried-fruits", "Сухофрукты и орехи", "Кургатылган жемиштер жана жаңгактар",
         "food"),
    _Cat("food-spices", "Специи", "Татымалдар", "food"),
    _Cat("food-honey", "Мёд", "Бал", "food"),
    _Cat("food-dairy", "Молочные продукты", "Сүт азыктары", "food"),
    _Cat("food-tea", "Чай", "Чай", "food"),
    _Cat("electronics", "Электроника", "Электроника"),
    _Cat("electronics-phones", "Смартфоны", "Смартфондор", "electronics"),
    _Cat("electronics-accessories", "Аксессуары", "Аксессуарлар", "electronics"),
    _Cat("kids", "Детские товары", "Балдар товарлары"),
    _Cat("kids-toys", "Игрушки", "Оюнчуктар", "kids"),
    _Cat("kids-creativity", "Творчество", "Чыгармачылык", "kids"),
    _Cat("souvenirs", "Сувениры и ремёсла", "Сувенирлер жана кол өнөрчүлүгү"),
    _Cat("souvenirs-felt", "Изделия из войлока", "Кийиз буюмдары", "souvenirs"),
    _Cat("souvenirs-headwear", "Национальные головные уборы", "Улуттук баш кийимдер",
         "souvenirs"),
    _Cat("souvenirs-music", "Музыкальные инструменты", "Музыкалык аспаптар", "souvenirs"),
    _Cat("beauty", "Красота и здоровье", "Сулуулук жана ден соолук"),
    _Cat("beauty-cosmetics", "Косметика", "Косметика", "beauty"),
    _Cat("beauty-care", "Уход и гигиена", "Гигиена жана кам көрүү", "beauty"),
)


@dataclass(frozen=True)
class _Var:
    attributes: dict[str, Any]
    prices: tuple[str, ...]  # KGS price points; the seed picks one


@dataclass(frozen=True)
class _Prod:
    name_ru: str
    name_ky: str
    category: str
    variants: tuple[_Var, ...]
    description_ru: str | None = None


def _sizes(key: str, values: tuple[Any, ...], prices: tuple[str, ...]) -> tuple[_Var, ...]:
    return tuple(_Var({key: v}, prices) for v in values)


def _one(prices: tuple[str, ...], **attributes: Any) -> tuple[_Var, ...]:
    return (_Var(dict(attributes), prices),)


@dataclass(frozen=True)
class _ShopData:
    slug: str
    code: str  # SKU prefix
    merchant: str
    name: str
    market: str
    address: str
    phone: str
    lat: str
    lon: str
    products: tuple[_Prod, ...]


SHOPS: tuple[_ShopData, ...] = (
    _ShopData(
        "dordoi-aigul-textile", "DRD", "ИП Асанова А. К.", "Айгуль Текстиль", "Dordoi",
        "рынок «Дордой», проход 7, контейнер 112", "+996 555 214 307",
        "42.939200", "74.616800",
        (
            _Prod("Платье летнее штапельное", "Жайкы штапель көйнөк", "clothing-women",
                  _sizes("size", ("S", "M", "L"), ("890.00", "990.00", "1190.00"))),
            _Prod("Джинсы мужские классические", "Эркектер классикалык джинсы", "clothing-men",
                  _sizes("size", ("30", "32", "34"), ("1290.00", "1490.00", "1690.00"))),
            _Prod("Футболка хлопковая", "Пахта футболка", "clothing-men",
                  _sizes("size", ("M", "L", "XL"), ("350.00", "390.00", "450.00"))),
            _Prod("Куртка демисезонная", "Күзгү-жазгы куртка", "clothing-men",
                  _sizes("size", ("M", "L"), ("2900.00", "3490.00", "3990.00"))),
            _Prod("Костюм спортивный детский", "Балдардын спорттук костюму", "clothing-kids",
                  _sizes("height_cm", (116, 128), ("990.00", "1190.00"))),
            _Prod("Платок шёлковый", "Жибек жоолук", "clothing-women",
                  _sizes("color", ("красный", "синий"), ("450.00", "550.00"))),
            _Prod("Свитер шерстяной", "Жүн свитер", "clothing-women",
                  _one(("1490.00", "1790.00"), size="M")),
            _Prod("Носки хлопковые, 5 пар", "Пахта байпак, 5 жуп", "clothing-men",
                  _one(("250.00", "300.00"), size="41-43")),
        ),
    ),
    _ShopData(
        "osh-bazaar-baktygul", "OSH", "ИП Токтогулов Б. Э.", "Бактыгүл: сухофрукты и специи",
        "Osh", "Ошский рынок, продуктовый ряд 12, место 4", "+996 700 418 225",
        "42.874600", "74.569700",
        (
            _Prod("Курага", "Өрүк кагы", "food-dried-fruits", (
                _Var({"weight_g": 500}, ("350.00", "390.00")),
                _Var({"weight_g": 1000}, ("650.00", "720.00")),
            ), "Баткенская курага без косточки."),
            _Prod("Изюм", "Мейиз", "food-dried-fruits", (
                _Var({"weight_g": 500}, ("250.00", "280.00")),
                _Var({"weight_g": 1000}, ("480.00", "520.00")),
            )),
            _Prod("Грецкий орех очищенный", "Тазаланган жаңгак", "food-dried-fruits",
                  _one(("450.00", "500.00"), weight_g=500), "Орехи из Арсланбоба."),
            _Prod("Мёд белый горный", "Ак тоо балы", "food-honey", (
                _Var({"weight_g": 500}, ("600.00", "650.00")),
                _Var({"weight_g": 1000}, ("1100.00", "1200.00")),
            ), "Эспарцетовый мёд, Иссык-Куль."),
            _Prod("Курут", "Курут", "food-dairy", _one(("150.00", "180.00"), weight_g=200)),
            _Prod("Зира", "Зире", "food-spices", _one(("120.00", "150.00"), weight_g=100)),
            _Prod("Чай зелёный", "Көк чай", "food-tea", _one(("190.00", "220.00"), weight_g=250)),
            _Prod("Перец красный молотый", "Кызыл калемпир", "food-spices",
                  _one(("90.00", "110.00"), weight_g=100)),
        ),
    ),
    _ShopData(
        "bishkek-park-smart-store", "BPK", "ОсОО «Смарт Трейд»", "Smart Store", "Bishkek Park",
        "ТРЦ Bishkek Park, ул. Киевская 148, 2 этаж", "+996 772 903 118",
        "42.875300", "74.590300",
        (
            _Prod("Смартфон Redmi 13C", "Redmi 13C смартфону", "electronics-phones", (
                _Var({"memory": "4/128 ГБ"}, ("11900.00", "12900.00")),
                _Var({"memory": "8/256 ГБ"}, ("14900.00", "15900.00")),
            )),
            _Prod("Наушники беспроводные TWS", "Зымсыз кулакчындар TWS",
                  "electronics-accessories",
                  _sizes("color", ("чёрный", "белый"), ("1499.00", "1990.00"))),
            _Prod("Зарядное устройство USB-C 20 Вт", "USB-C кубаттагыч 20 Вт",
                  "electronics-accessories", _one(("690.00", "790.00"))),
            _Prod("Кабель USB-C, 1 м", "USB-C кабели, 1 м", "electronics-accessories",
                  _one(("250.00", "350.00"))),
            _Prod("Чехол для смартфона", "Смартфон үчүн кап", "electronics-accessories",
                  _sizes("color", ("чёрный", "прозрачный", "синий"), ("350.00", "450.00"))),
            _Prod("Защитное стекло", "Коргоочу айнек", "electronics-accessories",
                  _one(("300.00", "350.00"))),
            _Prod("Power bank 10000 мА·ч", "Power bank 10000 мА·с", "electronics-accessories",
                  _one(("1290.00", "1499.00"))),
            _Prod("Умные часы", "Акылдуу саат", "electronics-accessories",
                  _sizes("color", ("чёрный", "серебристый"), ("3490.00", "3990.00"))),
        ),
    ),
    _ShopData(
        "asia-mall-balapan-kids", "ASM", "ОсОО «Балапан»", "Балапан Kids", "Asia Mall",
        "ТРЦ Asia Mall, пр. Ч. Айтматова 3, 1 этаж", "+996 501 276 640",
        "42.854600", "74.586100",
        (
            _Prod("Конструктор, 500 деталей", "Конструктор, 500 бөлүк", "kids-toys",
                  _one(("1490.00", "1790.00"))),
            _Prod("Мягкая игрушка «Медвежонок»", "Жумшак оюнчук «Аюу»", "kids-toys", (
                _Var({"height_cm": 30}, ("690.00", "790.00")),
                _Var({"height_cm": 50}, ("1190.00", "1290.00")),
            )),
            _Prod("Кукла в национальном костюме", "Улуттук кийимчен куурчак", "kids-toys",
                  _one(("890.00", "990.00"))),
            _Prod("Машинка на радиоуправлении", "Пульт менен башкарылуучу машина",
                  "kids-toys", _one(("1990.00", "2490.00"))),
            _Prod("Пазл, 1000 элементов", "Пазл, 1000 бөлүк", "kids-toys",
                  _one(("590.00", "690.00"))),
            _Prod("Футболка детская", "Балдар футболкасы", "clothing-kids",
                  _sizes("height_cm", (98, 110, 122), ("350.00", "390.00"))),
            _Prod("Настольная игра «Тогуз коргоол»", "Стол оюну «Тогуз коргоол»", "kids-toys",
                  _one(("1290.00", "1490.00"))),
            _Prod("Набор для рисования", "Сүрөт тартуу топтому", "kids-creativity",
                  _one(("790.00", "890.00"))),
        ),
    ),
    _ShopData(
        "tsum-kiyiz-art", "TSM", "ИП Жумабекова Н. С.", "Кийиз Art", "TSUM",
        "ЦУМ «Айчурек», пр. Чуй 155, 3 этаж", "+996 555 630 912",
        "42.876400", "74.614000",
        (
            _Prod("Ак калпак", "Ак калпак", "souvenirs-headwear",
                  _sizes("size", (56, 58, 60), ("1200.00", "1500.00"))),
            _Prod("Шырдак", "Шырдак", "souvenirs-felt", (
                _Var({"size": "1×1,5 м"}, ("12900.00", "14900.00")),
                _Var({"size": "2×3 м"}, ("34900.00", "39900.00")),
            ), "Войлочный ковёр ручной работы, Нарын."),
            _Prod("Тапочки войлочные", "Кийиз тапочка", "souvenirs-felt",
                  _sizes("size", (38, 40, 42), ("850.00", "990.00"))),
            _Prod("Сувенир «Боз үй» из войлока", "Кийизден «Боз үй» сувенири",
                  "souvenirs-felt", _one(("690.00", "790.00"))),
            _Prod("Комуз", "Комуз", "souvenirs-music", _one(("7900.00", "9900.00"))),
            _Prod("Магнит «Ала-Тоо»", "«Ала-Тоо» магнити", "souvenirs",
                  _one(("150.00", "200.00"))),
            _Prod("Сумка войлочная", "Кийиз сумка", "souvenirs-felt",
                  _sizes("color", ("серый", "бордовый"), ("1490.00", "1790.00"))),
            _Prod("Тебетей", "Тебетей", "souvenirs-headwear",
                  _one(("2500.00", "2900.00"), size=58)),
        ),
    ),
    _ShopData(
        "vefa-ak-zhol-cosmetics", "VEF", "ОсОО «Ак Жол Косметикс»", "Ак Жол Cosmetics", "Vefa",
        "ТЦ «Вефа», ул. Горького 1/2, 1 этаж", "+996 709 145 583",
        "42.857400", "74.609300",
        (
            _Prod("Крем для рук", "Кол үчүн крем", "beauty-care", (
                _Var({"volume_ml": 50}, ("250.00", "290.00")),
                _Var({"volume_ml": 100}, ("390.00", "450.00")),
            )),
            _Prod("Шампунь", "Шампунь", "beauty-care", _one(("450.00", "550.00"), volume_ml=400)),
            _Prod("Зубная паста", "Тиш пастасы", "beauty-care",
                  _one(("190.00", "220.00"), volume_ml=100)),
            _Prod("Мыло ручной работы", "Кол менен жасалган самын", "beauty-care",
                  _sizes("scent", ("арча", "лаванда"), ("180.00", "220.00"))),
            _Prod("Тушь для ресниц", "Кирпик үчүн тушь", "beauty-cosmetics",
                  _one(("690.00", "790.00"))),
            _Prod("Парфюмерная вода", "Атыр суусу", "beauty-cosmetics",
                  _one(("2490.00", "2990.00"), volume_ml=50)),
            _Prod("Солнцезащитный крем SPF 50", "Күндөн коргоочу крем SPF 50",
                  "beauty-care", _one(("990.00", "1190.00"), volume_ml=50)),
            _Prod("Бальзам для губ", "Эрин бальзамы", "beauty-cosmetics",
                  _one(("190.00", "250.00"))),
        ),
    ),
)


def _stock_for(rng: random.Random, price: Decimal) -> int:
    if price >= 10000:
        return rng.randint(1, 6)
    if price >= 2000:
        return rng.randint(3, 25)
    if price >= 500:
        return rng.randint(10, 80)
    return rng.randint(30, 250)


# --- the summary ------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededVariant:
    id: UUID
    sku: str
    barcode: str | None
    price: Decimal


@dataclass(frozen=True)
class SeededShop:
    id: UUID
    name: str
    market: str | None
    variants: tuple[SeededVariant, ...]


@dataclass(frozen=True)
class SeededDevice:
    id: str
    shop_id: UUID


@dataclass(frozen=True)
class SeedSummary:
    seed: int
    shops: tuple[SeededShop, ...]
    devices: tuple[SeededDevice, ...]
    # rows this run inserted, by kind; not part of equality (a rerun reports zeros)
    created: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def variants_by_shop(self) -> dict[UUID, tuple[SeededVariant, ...]]:
        return {s.id: s.variants for s in self.shops}

    @property
    def created_total(self) -> int:
        return sum(self.created.values())

    def describe(self) -> str:
        lines = [f"demo marketplace (seed {self.seed}): {len(self.shops)} shops, "
                 f"{sum(len(s.variants) for s in self.shops)} variants, "
                 f"{len(self.devices)} POS devices; created now: {self.created_total}"]
        device_by_shop = {d.shop_id: d.id for d in self.devices}
        for s in self.shops:
            prices = [v.price for v in s.variants]
            lines.append(
                f"  {device_by_shop.get(s.id, '-'):9} {s.market or '-':13} {s.name}: "
                f"{len(s.variants)} variants, {min(prices)}-{max(prices)} KGS"
            )
        return "\n".join(lines)


# --- seeding ------------------------------------------------------------------------------


class _Counter:
    def __init__(self) -> None:
        self.counts = {k: 0 for k in
                       ("merchants", "shops", "categories", "products", "variants", "devices")}

    def add(self, kind: str) -> None:
        self.counts[kind] += 1


def _seed_categories(conn: Connection, made: _Counter) -> dict[str, UUID]:
    ids: dict[str, UUID] = {}
    for c in CATEGORIES:
        cid = seed_uuid("category", c.slug)
        if catalog.get_category(conn, cid) is None:
            catalog.create_category(
                conn, c.slug, c.name_ru, c.name_ky,
                parent_id=ids[c.parent] if c.parent else None, id=cid)
            made.add("categories")
        ids[c.slug] = cid
    return ids


def _seed_shop(
    conn: Connection,
    number: int,
    data: _ShopData,
    categories: dict[str, UUID],
    rng: random.Random,
    made: _Counter,
) -> tuple[SeededShop, SeededDevice]:
    merchant_id = seed_uuid("merchant", data.slug)
    if catalog.get_merchant(conn, merchant_id) is None:
        catalog.create_merchant(conn, data.merchant, id=merchant_id)
        made.add("merchants")
    shop_id = seed_uuid("shop", data.slug)
    shop = catalog.get_shop(conn, shop_id)
    if shop is None:
        shop = catalog.create_shop(
            conn, merchant_id, data.name, address=data.address, phone=data.phone,
            lat=Decimal(data.lat), lon=Decimal(data.lon), market=data.market, id=shop_id)
        made.add("shops")

    variants: list[SeededVariant] = []
    for p_no, prod in enumerate(data.products, start=1):
        product_id = seed_uuid("product", data.slug, f"{p_no:02d}")
        if catalog.get_product(conn, product_id) is None:
            catalog.create_product(
                conn, shop_id, prod.name_ru, category_id=categories[prod.category],
                name_ky=prod.name_ky, description_ru=prod.description_ru, id=product_id)
            made.add("products")
        for v_no, var in enumerate(prod.variants, start=1):
            # draw the random values first, so the sequence never depends on the database
            price = Decimal(rng.choice(var.prices))
            stock = _stock_for(rng, price)
            sku = f"{data.code}-{p_no:02d}-{v_no}"
            variant_id = seed_uuid("variant", data.slug, sku)
            row = catalog.get_variant(conn, variant_id)
            if row is None:
                barcode = ean13_with_check(
                    f"{KYRGYZSTAN_GS1_PREFIX}{number:04d}{p_no:03d}{v_no:02d}")
                row = catalog.create_variant(
                    conn, product_id, sku, price, barcode=barcode,
                    attributes=var.attributes, stock_qty=stock, id=variant_id)
                made.add("variants")
            variants.append(SeededVariant(row.id, row.sku, row.barcode, row.price))

    device_id = pos.device_id_for(number)
    device = pos.get_device(conn, device_id)
    if device is None:
        device = pos.register_device(conn, device_id, shop_id, firmware_version=DEFAULT_FIRMWARE)
        made.add("devices")
    return (
        SeededShop(shop.id, shop.name, shop.market, tuple(variants)),
        SeededDevice(device.id, device.shop_id),
    )


@contextmanager
def _transaction(conn_or_pool: ConnectionPool | Connection) -> Iterator[Connection]:
    with transaction(conn_or_pool) as conn:
        advisory_xact_lock(conn, _SEED_LOCK_KEY)
        yield conn


def seed_demo_marketplace(
    conn_or_pool: ConnectionPool | psycopg.Connection[Any], seed: int = 42
) -> SeedSummary:
    """Create the demo marketplace (in one transaction) and describe it.

    Needs the schema (run `apply_migrations` first). Safe to run again: nothing new is
    created and the same summary comes back.
    """
    rng = random.Random(seed)
    made = _Counter()
    shops: list[SeededShop] = []
    devices: list[SeededDevice] = []
    with _transaction(conn_or_pool) as conn:
        categories = _seed_categories(conn, made)
        for number, data in enumerate(SHOPS, start=1):
            shop, device = _seed_shop(conn, number, data, categories, rng, made)
            shops.append(shop)
            devices.append(device)
    return SeedSummary(seed, tuple(shops), tuple(devices), dict(made.counts))


def main(argv: list[str] | None = None) -> None:
    from marketplace_core.db import connect
    from marketplace_core.migrate import apply_migrations

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    applied = apply_migrations()
    if applied:
        print("migrations applied: " + ", ".join(applied))
    with connect() as conn:
        summary = seed_demo_marketplace(conn, seed=args.seed)
    print(summary.describe())


if __name__ == "__main__":
    main()
