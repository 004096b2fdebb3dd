"""The benchmark catalog: a throw-away database with ~100k variants, loaded with COPY.

`bench_database()` creates `bench_core_<random>` through the settings' DSN, applies the
migrations and yields its DSN; the database is dropped afterwards unless `keep`.
`load_catalog()` fills it: ~40 merchants, ~200 shops around Bishkek, a 60-category tree,
~25k products with Russian/Kyrgyz names and descriptions, ~100k variants, a POS terminal
per shop (no heartbeat yet) and some buyers. Rows go in with COPY, not through the
service functions (100k service calls would take minutes), so this bulk load writes no
outbox events; the search columns are generated columns and fill themselves.

Everything random comes from one seeded `random.Random`, so a run is reproducible.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.settings import get_settings
from marketplace_core.catalog.barcodes import ean13_with_check
from marketplace_core.migrate import apply_migrations

DB_PREFIX = "bench_core_"
# Bishkek's box (the spec's coordinates); markets are where the shops cluster.
LAT_RANGE = (42.80, 42.92)
LON_RANGE = (74.50, 74.70)
MARKETS = ["Дордой", "Ош базары", "Аламедин базары", "Мадина", "ЦУМ", "Бета Сторес",
           "Орто-Сай", "Джал", "Ортосай базары", None]
STREETS = ["пр. Чуй", "ул. Киевская", "пр. Манаса", "ул. Ибраимова", "ул. Токтогула",
           "пр. Жибек Жолу", "ул. Исанова", "ул. Боконбаева", "пр. Мира", "ул. Ахунбаева"]
MERCHANT_WORDS = ["Ала-Тоо", "Ак-Суу", "Бишкек", "Нур", "Айбек", "Кут", "Тулпар", "Береке",
                  "Сапат", "Асман", "Манас", "Эркин", "Жаштык", "Байлык", "Ынтымак"]
MERCHANT_KINDS = ["Трейд", "Маркет", "Групп", "Сервис", "Импорт", "Плюс"]
COLORS = ["чёрный", "белый", "синий", "красный", "зелёный", "серый", "бежевый", "золотой"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


@dataclass(frozen=True)
class Family:
    """One kind of product: how its names are built, in which price range."""

    slug: str
    name_ru: str
    name_ky: str
    names_ru: list[str]            # templates: {brand} {model} {extra}
    names_ky: list[str | None]     # same index; None: no Kyrgyz name
    brands: list[str]
    models: list[str]
    extras: list[str]
    price: tuple[int, int]
    variant_kind: str              # what varies between variants: memory | color | size | weight


FAMILIES: list[Family] = [
    Family("smartphones", "Смартфоны", "Смартфондор",
           ["Смартфон {brand} {model} {extra}", "Телефон {brand} {model} {extra}"],
           ["Смартфон {brand} {model}", None],
           ["Samsung Galaxy", "Xiaomi Redmi", "Apple iPhone", "Honor", "Realme", "Tecno Spark"],
           ["A54", "Note 12", "13", "15 Pro", "X8", "C55", "S23", "A15", "10 Pro"],
           ["128 ГБ", "256 ГБ", "64 ГБ", "512 ГБ"], (6_000, 150_000), "memory"),
    Family("laptops", "Ноутбуки", "Ноутбуктар",
           ["Ноутбук {brand} {model} {extra}"], ["Ноутбук {brand} {model}"],
           ["Lenovo IdeaPad", "HP Pavilion", "Asus VivoBook", "Acer Aspire", "Apple MacBook"],
           ["14", "15", "Air M2", "Slim 5", "Pro 16"], ["8 ГБ ОЗУ", "16 ГБ ОЗУ", "SSD 512 ГБ"],
           (25_000, 200_000), "memory"),
    Family("headphones", "Наушники", "Кулакчындар",
           ["Наушники {brand} {model} {extra}", "Беспроводные наушники {brand} {model}"],
           ["Кулакчын {brand} {model}", "Зымсыз кулакчын {brand}"],
           ["JBL", "Sony", "Xiaomi", "Apple AirPods", "Samsung Buds"],
           ["Tune 510", "WH-1000XM5", "Pro 2", "Live 2", "Buds 3"], ["Bluetooth", "с микрофоном"],
           (900, 35_000), "color"),
    Family("kalpak", "Калпаки", "Калпактар",
           ["Калпак {extra} {model}", "Кыргызский калпак {extra}"],
           ["Кыргыз калпагы {extra}", "Калпак {extra}"],
           [""], ["ручной работы", "войлочный", "праздничный", "с вышивкой"],
           ["ак", "кара", "тебетей", "ала-кийиз"], (700, 6_000), "size"),
    Family("felt", "Войлочные изделия", "Кийиз буюмдар",
           ["Шырдак {extra} {model}", "Ала-кийиз {model} {extra}", "Тапочки войлочные {extra}"],
           ["Шырдак {extra}", "Ала-кийиз {extra}", "Кийиз тапочка"],
           [""], ["2x3 м", "1x1.5 м", "ручной работы", "узорный"],
           ["кызыл", "көк", "ак", "боз"], (1_200, 45_000), "size"),
    Family("tea", "Чай", "Чай",
           ["Чай {extra} {brand} {model}", "Чай {extra} листовой {brand}"],
           ["{extra} чай {brand}", None],
           ["Пиала", "Ahmad", "Greenfield", "Lipton", "Беш Бармак"],
           ["100 г", "250 г", "25 пакетиков", "500 г"], ["зелёный", "чёрный", "с чабрецом"],
           (90, 1_500), "weight"),
    Family("honey", "Мёд", "Бал",
           ["Мёд {extra} {model}", "Мёд горный {extra}"], ["Тоо балы {extra}", "Бал {extra}"],
           [""], ["0.5 кг", "1 кг", "250 г"], ["эспарцетовый", "белый", "иссык-кульский"],
           (350, 2_500), "weight"),
    Family("kymyz", "Национальные напитки", "Улуттук суусундуктар",
           ["Кумыс {extra} {model}", "Максым {brand} {model}", "Чалап {brand} {model}"],
           ["Кымыз {extra}", "Максым {brand}", "Чалап {brand}"],
           ["Шоро", "Эне-Сай", "Ак-Ниет"], ["0.5 л", "1 л", "1.5 л"], ["свежий", "суусамыр"],
           (40, 450), "weight"),
    Family("jackets", "Куртки", "Куртка",
           ["Куртка {brand} {extra} {model}", "Пуховик {brand} {extra}"],
           ["Куртка {brand}", None], ["Columbia", "The North Face", "Zara", "LC Waikiki"],
           ["мужская", "женская", "детская"], ["зимняя", "демисезонная", "утеплённая"],
           (2_500, 25_000), "size"),
    Family("dresses", "Платья", "Көйнөктөр",
           ["Платье {extra} {model}", "Платье {brand} {extra}"], ["Көйнөк {extra}", None],
           ["Mango", "Zara", "Koton"], ["вечернее", "летнее", "в национальном стиле"],
           ["шёлковое", "хлопковое", "длинное"], (1_200, 18_000), "size"),
    Family("kitchen", "Посуда", "Идиш-аяк",
           ["Казан {extra} {model}", "Пиала {brand} {extra}", "Чайник {brand} {model}"],
           ["Казан {extra}", "Кесе {extra}", None], ["Tefal", "Bergner", "Узбекская"],
           ["6 л", "12 л", "набор 6 шт", "1.7 л"], ["чугунный", "керамическая", "электрический"],
           (300, 12_000), "color"),
    Family("toys", "Игрушки", "Оюнчуктар",
           ["Конструктор {brand} {model}", "Кукла {brand} {model}", "Машинка {brand} {extra}"],
           ["Конструктор {brand}", "Куурчак {brand}", None],
           ["LEGO", "Barbie", "Hot Wheels", "Mega Bloks"], ["City", "Classic", "Friends"],
           ["на радиоуправлении", "для детей 3+", "набор"], (400, 15_000), "color"),
    Family("sport", "Спорт", "Спорт",
           ["Мяч {brand} {model}", "Кроссовки {brand} {model} {extra}", "Гантели {extra}"],
           ["Топ {brand}", "Бут кийим {brand}", None],
           ["Adidas", "Nike", "Puma", "Demix"], ["Tiro", "Air Max", "RS-X", "Pro"],
           ["беговые", "для зала", "2x5 кг"], (800, 20_000), "size"),
    Family("cosmetics", "Косметика", "Косметика",
           ["Крем {brand} {extra} {model}", "Шампунь {brand} {model}", "Помада {brand} {extra}"],
           ["Крем {brand}", None, None], ["Nivea", "L'Oreal", "Garnier", "Faberlic"],
           ["50 мл", "250 мл", "400 мл"], ["увлажняющий", "для сухих волос", "матовая"],
           (150, 4_000), "weight"),
    Family("auto", "Автотовары", "Унаа буюмдары",
           ["Шины {brand} {model} {extra}", "Масло моторное {brand} {model}",
            "Видеорегистратор {brand} {extra}"],
           ["Дөңгөлөк {brand}", None, None], ["Michelin", "Bridgestone", "Castrol", "Xiaomi 70mai"],
           ["R16", "5W-30 4 л", "Dash Cam"], ["зимние", "летние", "Full HD"],
           (900, 60_000), "size"),
]
CATEGORIES_PER_FAMILY = 4  # the family's root + 3 sub-categories: 15 * 4 = 60
SUBCATEGORY_WORDS = [("premium", "Премиум", "Премиум"), ("budget", "Эконом", "Арзан"),
                     ("new", "Новинки", "Жаңылар")]
DESCRIPTION_RU = [
    "Оригинальный товар с гарантией магазина.", "Доставка по Бишкеку в день заказа.",
    "Самовывоз с рынка {market}.", "Качество проверено, возможен обмен в течение 14 дней.",
    "Подходит для подарка.", "Цена указана в сомах (KGS).", "В наличии разные цвета и размеры.",
    "Производство Кыргызстан.", "Привезено из Китая и Турции.", "Оптом и в розницу.",
]
DESCRIPTION_KY = ["Сапаттуу товар.", "Бишкек боюнча жеткирүү.", "Белекке ылайыктуу.",
                  "Кыргызстанда жасалган.", "Арзан баада."]


@dataclass
class CatalogInfo:
    """What the benchmarks need to know about the loaded catalog."""

    product_ids: list[UUID] = field(default_factory=list)
    variant_ids: list[tuple[UUID, UUID]] = field(default_factory=list)  # (variant, shop)
    shop_ids: list[UUID] = field(default_factory=list)
    shop_points: list[tuple[float, float]] = field(default_factory=list)
    root_category_ids: list[UUID] = field(default_factory=list)
    category_ids: list[UUID] = field(default_factory=list)
    buyer_ids: list[UUID] = field(default_factory=list)
    device_ids: list[str] = field(default_factory=list)  # one terminal per shop
    vocabulary: list[str] = field(default_factory=list)   # words that occur in names
    kyrgyz_words: list[str] = field(default_factory=list)
    variants: int = 0
    load_seconds: float = 0.0


def admin_dsn() -> str:
    return get_settings().postgres_dsn


@contextmanager
def bench_database(*, keep: bool = False) -> Iterator[str]:
    """A fresh migrated database `bench_core_<random>`; yields its DSN, drops it after."""
    name = f"{DB_PREFIX}{secrets.token_hex(5)}"
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = make_conninfo(admin_dsn(), dbname=name)
    try:
        apply_migrations(dsn)
        yield dsn
    finally:
        if keep:
            print(f"  kept database {name}", flush=True)
        else:
            with psycopg.connect(admin_dsn(), autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)")
                             .format(sql.Identifier(name)))


def _fill(template: str, parts: dict[str, str]) -> str:
    return " ".join(template.format(**parts).split())  # empty brands leave double spaces


def _variant_attributes(kind: str, k: int) -> str:
    if kind == "memory":
        return f'{{"memory": "{[64, 128, 256, 512, 1024][k % 5]} ГБ", "color": "{COLORS[k % 8]}"}}'
    if kind == "size":
        return f'{{"size": "{SIZES[k % 6]}", "color": "{COLORS[(k * 3) % 8]}"}}'
    if kind == "weight":
        return f'{{"pack": "{k + 1} шт"}}'
    return f'{{"color": "{COLORS[k % 8]}"}}'


def load_catalog(dsn: str, *, variants: int = 100_000, seed: int = 20_240_601) -> CatalogInfo:
    """Fill an empty migrated database; ~4 variants per product, 125 products per shop."""
    started = time.perf_counter()
    rnd = random.Random(seed)
    info = CatalogInfo()
    n_products = max(variants // 4, 10)
    n_shops = max(min(200, n_products // 125), 2)
    n_merchants = max(n_shops // 5, 1)
    now = datetime.now(UTC)

    merchants = [(uuid4(), f'ОсОО "{rnd.choice(MERCHANT_WORDS)} {rnd.choice(MERCHANT_KINDS)}"'
                  f" {i + 1}") for i in range(n_merchants)]
    shops = []
    for i in range(n_shops):
        shop_id = uuid4()
        lat = round(rnd.uniform(*LAT_RANGE), 6)
        lon = round(rnd.uniform(*LON_RANGE), 6)
        market = rnd.choice(MARKETS)
        shops.append((shop_id, merchants[i % n_merchants][0],
                      f"{rnd.choice(MERCHANT_WORDS)} — магазин №{i + 1}",
                      f"г. Бишкек, {rnd.choice(STREETS)}, {rnd.randint(1, 250)}",
                      f"+996{rnd.choice(['555', '700', '770', '990'])}"
                      f"{rnd.randint(100000, 999999)}",
                      Decimal(f"{lat:.6f}"), Decimal(f"{lon:.6f}"), market))
        info.shop_ids.append(shop_id)
        info.shop_points.append((lat, lon))

    categories: list[tuple[UUID, UUID | None, str, str, str, int]] = []
    family_categories: list[list[UUID]] = []
    for order, fam in enumerate(FAMILIES):
        root = uuid4()
        categories.append((root, None, fam.slug, fam.name_ru, fam.name_ky, order))
        info.root_category_ids.append(root)
        ids = [root]
        for k, (slug, ru, ky) in enumerate(SUBCATEGORY_WORDS[: CATEGORIES_PER_FAMILY - 1]):
            child = uuid4()
            categories.append((child, root, f"{fam.slug}-{slug}", f"{fam.name_ru}: {ru}",
                               f"{fam.name_ky}: {ky}", k))
            ids.append(child)
        family_categories.append(ids)
        info.category_ids.extend(ids)

    products = []
    variant_rows = []
    vocabulary: set[str] = set()
    kyrgyz: set[str] = set()
    barcode_seq = 0
    variant_total = 0
    for i in range(n_products):
        fam_index = rnd.randrange(len(FAMILIES))
        fam = FAMILIES[fam_index]
        shop = shops[i % n_shops]
        t = rnd.randrange(len(fam.names_ru))
        # the Kyrgyz name names the same item: same brand, model and extra
        parts = {"brand": rnd.choice(fam.brands), "model": rnd.choice(fam.models),
                 "extra": rnd.choice(fam.extras)}
        name_ru = _fill(fam.names_ru[t], parts)
        ky_template = fam.names_ky[t % len(fam.names_ky)]
        name_ky = _fill(ky_template, parts) if ky_template and rnd.random() < 0.7 else None
        description_ru = " ".join(
            s.format(market=shop[7] or "Дордой") for s in rnd.sample(DESCRIPTION_RU, 3))
        description_ky = " ".join(rnd.sample(DESCRIPTION_KY, 2)) if name_ky else None
        if i < 3000:  # enough names to learn the words the queries use
            vocabulary.update(w.lower() for w in name_ru.split() if len(w) >= 4)
            if name_ky:
                kyrgyz.update(w.lower() for w in name_ky.split() if len(w) >= 4)
        product_id = uuid4()
        created = now - timedelta(minutes=rnd.randint(0, 60 * 24 * 365))
        products.append((product_id, shop[0], rnd.choice(family_categories[fam_index]), name_ru,
                         name_ky, description_ru, description_ky, created, created))
        info.product_ids.append(product_id)
        remaining_products = n_products - i
        remaining_variants = variants - variant_total
        # 1..7 variants, mean 4, the last products absorbing the rounding
        count = rnd.randint(1, 7) if remaining_products > 1 else remaining_variants
        count = max(1, min(count, remaining_variants - (remaining_products - 1)))
        low, high = fam.price
        base = rnd.randint(low, high)
        for k in range(count):
            barcode_seq += 1
            price = Decimal(base + k * max(low // 10, 10)) + Decimal(rnd.choice([0, 50, 90])) / 100
            variant_id = uuid4()
            variant_rows.append((
                variant_id, product_id, shop[0], f"SKU-{i:06d}-{k}",
                ean13_with_check(f"470{barcode_seq:09d}"), _variant_attributes(fam.variant_kind, k),
                price, rnd.choice([0, 5, 20, 100, 500, 1000]) if k else rnd.randint(200, 2000),
                created))
            info.variant_ids.append((variant_id, shop[0]))
        variant_total += count
    info.variants = variant_total
    info.vocabulary = sorted(vocabulary)
    info.kyrgyz_words = sorted(kyrgyz - vocabulary) or sorted(kyrgyz)

    buyers = [(uuid4(), f"buyer{i}@bench.kg", f"Покупатель {i}") for i in range(500)]
    info.buyer_ids = [b[0] for b in buyers]
    info.device_ids = [f"POS-{i + 1:04d}" for i in range(n_shops)]

    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            _copy(cur, "merchants (id, name)", merchants)
            _copy(cur, "shops (id, merchant_id, name, address, phone, lat, lon, market)", shops)
            _copy(cur, "categories (id, parent_id, slug, name_ru, name_ky, sort_order)",
                  categories)
            _copy(cur, "products (id, shop_id, category_id, name_ru, name_ky, description_ru,"
                  " description_ky, created_at, updated_at)", products)
            _copy(cur, "product_variants (id, product_id, shop_id, sku, barcode, attributes,"
                  " price, stock_qty, updated_at)", variant_rows)
            # never logged in: the hash only has to be present
            _copy(cur, "users (id, email, full_name, role, password_hash)",
                  [(b[0], b[1], b[2], "buyer", "!bench") for b in buyers])
            _copy(cur, "pos_devices (id, shop_id, status, firmware_version)",
                  [(d, s, "active", "bench") for d, s in zip(info.device_ids, info.shop_ids,
                                                             strict=True)])
        conn.commit()
        conn.autocommit = True
        conn.execute("vacuum analyze")
    info.load_seconds = time.perf_counter() - started
    return info


def _copy(cur: psycopg.Cursor[tuple[object, ...]], target: str,
          rows: Sequence[tuple[object, ...]]) -> None:
    with cur.copy(f"copy {target} from stdin".encode()) as copy:
        for row in rows:
            copy.write_row(row)
