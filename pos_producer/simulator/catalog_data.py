"""The raw material of the simulated Bishkek marketplace: trading places, goods, names.

Only data lives here (the world builder in `world.py` draws from it with a seeded RNG).
Coordinates are the centre of each market or mall, WGS84, with a radius that covers its
footprint (shops are spread inside it). Prices are KGS retail prices of the kind seen on
the bazaars and in the malls; each goods line has a range and a rounding step so drawn
prices look like price tags ("1 490", not "1 487.31").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# --- trading places --------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    key: str
    name: str  # what the core stores in shops.market
    name_ru: str
    lat: float
    lon: float
    radius_m: float  # shops are placed within this distance of the centre
    kind: str  # "bazaar" | "mall"
    opens: float  # local hour (Asia/Bishkek)
    closes: float
    weight: float  # share of the world's shops
    specialties: tuple[tuple[str, float], ...]  # (department, weight)
    address: str  # a pattern: {row}, {n}, {floor}


MARKETS: tuple[Market, ...] = (
    # Dordoi: the wholesale container city north of the centre; opens at dawn.
    Market("dordoi", "Dordoi", "Рынок «Дордой»", 42.9375, 74.6190, 450, "bazaar", 6.5, 16.0,
           0.24, (("clothing", 4), ("textiles", 3), ("household", 2), ("electronics", 1)),
           "рынок «Дордой», проход {row}, контейнер {n}"),
    Market("osh", "Osh", "Ошский рынок", 42.8750, 74.5690, 300, "bazaar", 8.0, 18.0,
           0.16, (("food", 4), ("souvenirs", 2), ("clothing", 2), ("household", 1),
                  ("textiles", 1)),
           "Ошский рынок, ряд {row}, место {n}"),
    Market("alamedin", "Alamedin", "Аламединский рынок", 42.8845, 74.6375, 200, "bazaar",
           7.5, 18.0, 0.10, (("food", 3), ("household", 2), ("clothing", 1)),
           "Аламединский рынок, ряд {row}, место {n}"),
    Market("orto-sai", "Orto-Sai", "Рынок «Орто-Сай»", 42.8380, 74.6140, 180, "bazaar",
           8.0, 18.5, 0.07, (("food", 3), ("household", 1), ("cosmetics", 1)),
           "рынок «Орто-Сай», павильон {row}, место {n}"),
    Market("madina", "Madina", "Рынок «Мадина»", 42.8840, 74.5730, 150, "bazaar", 8.0, 18.0,
           0.08, (("textiles", 5), ("clothing", 1)),
           "рынок «Мадина», ряд {row}, бутик {n}"),
    Market("tsum", "TSUM", "ЦУМ «Айчүрөк»", 42.8763, 74.6143, 60, "mall", 9.0, 20.0,
           0.08, (("souvenirs", 3), ("electronics", 2), ("cosmetics", 2), ("clothing", 1)),
           "ЦУМ, пр. Чуй 155, {floor} этаж, отдел {n}"),
    Market("bishkek-park", "Bishkek Park", "ТРЦ Bishkek Park", 42.8753, 74.5903, 70, "mall",
           10.0, 22.0, 0.07, (("clothing", 3), ("cosmetics", 2), ("electronics", 2)),
           "ТРЦ Bishkek Park, ул. Киевская 148, {floor} этаж, бутик {n}"),
    Market("asia-mall", "Asia Mall", "ТРЦ Asia Mall", 42.8555, 74.5860, 80, "mall", 10.0, 22.0,
           0.06, (("clothing", 3), ("electronics", 2), ("cosmetics", 1)),
           "ТРЦ Asia Mall, пр. Ч. Айтматова 3, {floor} этаж, бутик {n}"),
    Market("vefa", "Vefa Center", "ТЦ «Вефа»", 42.8573, 74.6093, 60, "mall", 10.0, 21.0,
           0.05, (("clothing", 2), ("cosmetics", 2), ("household", 1)),
           "ТЦ «Вефа», ул. Горького 27/1, {floor} этаж, бутик {n}"),
    # Dordoi Plaza stands on Ibraimov Street (No. 115), east of TSUM, not next to Bishkek
    # Park as the brief's coordinates suggested.
    Market("dordoi-plaza", "Dordoi Plaza", "ТРЦ «Дордой Плаза»", 42.8746, 74.6190, 60, "mall",
           10.0, 22.0, 0.05, (("clothing", 2), ("electronics", 1), ("cosmetics", 1)),
           "ТРЦ «Дордой Плаза», ул. Ибраимова 115, {floor} этаж, бутик {n}"),
    Market("tash-rabat", "Tash-Rabat", "ТРЦ «Таш-Рабат»", 42.8540, 74.6040, 60, "mall", 10.0,
           21.0, 0.04, (("clothing", 2), ("household", 1), ("electronics", 1)),
           "ТРЦ «Таш-Рабат», {floor} этаж, бутик {n}"),
)

# Bishkek, generously: from the Dordoi bazaar in the north to the southern foothills.
BISHKEK_BOUNDS = {"lat_min": 42.78, "lat_max": 42.96, "lon_min": 74.45, "lon_max": 74.75}


# --- goods -------------------------------------------------------------------------------

# GS1 country prefixes of where goods come from (the first three EAN-13 digits).
ORIGIN_PREFIXES: dict[str, tuple[str, ...]] = {
    "kg": ("470",),
    "cn": ("690", "691", "692", "693", "694", "695", "696", "697", "698", "699"),
    "tr": ("868", "869"),
    "ru": ("460", "461", "462", "463", "464", "465", "466", "467", "468", "469"),
    "kz": ("487",),
    "uz": ("478",),
    "kr": ("880",),
    "de": ("400", "401", "402", "403", "404", "405", "406", "407", "408", "409", "440"),
    "it": ("800", "801", "802", "803", "804", "805", "806", "807", "808", "809"),
}

# Variant axes: (attribute, ((value, price factor), ...)).
Axis = tuple[str, tuple[tuple[str, Decimal], ...]]
_1 = Decimal("1")
SIZES: Axis = ("size", (("S", _1), ("M", _1), ("L", _1), ("XL", Decimal("1.1"))))
KIDS: Axis = ("height_cm", (("104", _1), ("116", _1), ("128", Decimal("1.1")),
                            ("140", Decimal("1.15"))))
SHOES: Axis = ("size", (("37", _1), ("38", _1), ("39", _1), ("40", _1), ("41", _1),
                        ("42", _1), ("43", _1)))
COLORS: Axis = ("color", (("чёрный", _1), ("белый", _1), ("синий", _1), ("красный", _1),
                          ("серый", _1), ("бежевый", _1)))
WEIGHTS: Axis = ("weight", (("250 г", Decimal("0.55")), ("500 г", _1), ("1 кг", Decimal("1.9"))))
VOLUMES: Axis = ("volume", (("0.5 л", _1), ("1 л", Decimal("1.8"))))
MEMORY: Axis = ("memory", (("4/128 ГБ", _1), ("8/256 ГБ", Decimal("1.3"))))
FABRIC_METRES: Axis = ("length", (("1 м", _1), ("3 м", Decimal("2.9")), ("5 м", Decimal("4.7"))))
BEDDING: Axis = ("size", (("1,5-спальный", _1), ("2-спальный", Decimal("1.25")),
                          ("евро", Decimal("1.45"))))
NONE: Axis = ("", (("", _1),))


@dataclass(frozen=True)
class Goods:
    """A line of goods a shop may carry; each value of its axis becomes one variant (SKU)."""

    code: str  # short, for SKUs
    department: str
    category: str | None  # a category slug of marketplace_core.seed, when one fits
    name_ru: str
    name_ky: str
    price_lo: int  # KGS
    price_hi: int
    step: int  # the price tag is a multiple of this (minus 10 for "...90" prices)
    axis: Axis
    origins: tuple[str, ...]
    brand: str | None = None


def _g(code: str, dept: str, cat: str | None, ru: str, ky: str, lo: int, hi: int, step: int,
       axis: Axis, *origins: str, brand: str | None = None) -> Goods:
    return Goods(code, dept, cat, ru, ky, lo, hi, step, axis, origins, brand)


GOODS: tuple[Goods, ...] = (
    # textiles (Madina and Dordoi are the fabric markets)
    _g("SHTP", "textiles", None, "Ткань штапель", "Штапель кездеме", 180, 320, 10, FABRIC_METRES,
       "uz", "cn"),
    _g("ATLS", "textiles", None, "Атлас узбекский", "Өзбек атласы", 450, 900, 50, FABRIC_METRES,
       "uz"),
    _g("SHLK", "textiles", None, "Шёлк натуральный", "Табигый жибек", 900, 1600, 100,
       FABRIC_METRES, "uz", "cn"),
    _g("KRPD", "textiles", None, "Крепдешин", "Крепдешин", 250, 450, 10, FABRIC_METRES, "cn", "tr"),
    _g("BYAZ", "textiles", None, "Бязь для постельного белья", "Төшөк жабдыгы үчүн бөз",
       150, 260, 10, FABRIC_METRES, "uz", "kz"),
    _g("PBEL", "textiles", None, "Комплект постельного белья", "Төшөк жабдыктарынын топтому",
       1800, 4200, 100, BEDDING, "tr", "uz", "cn"),
    _g("PLED", "textiles", None, "Плед флисовый", "Флис жамынчы", 700, 1500, 50, COLORS, "cn"),
    _g("POLT", "textiles", None, "Полотенце махровое", "Түктүү сүлгү", 250, 650, 10, COLORS,
       "tr", "uz"),
    _g("TUSH", "textiles", None, "Тушкийиз вышитый", "Сайма тушкийиз", 6000, 18000, 500, NONE,
       "kg"),
    _g("TSHK", "textiles", None, "Төшөк (национальный матрас)", "Төшөк", 2500, 5500, 100, NONE,
       "kg"),
    _g("SHTR", "textiles", None, "Шторы блэкаут", "Блэкаут көшөгө", 1500, 3800, 100, COLORS,
       "tr", "cn"),
    _g("SKTR", "textiles", None, "Скатерть праздничная", "Майрамдык дасторкон", 600, 1400, 50,
       NONE, "tr", "cn"),
    # clothing
    _g("PLTE", "clothing", "clothing-women", "Платье летнее", "Жайкы көйнөк", 890, 2490, 100,
       SIZES, "tr", "cn", "kg"),
    _g("DJNS", "clothing", "clothing-men", "Джинсы мужские", "Эркектер джинсысы", 1290, 2990,
       100, SIZES, "tr", "cn"),
    _g("FUTB", "clothing", "clothing-men", "Футболка хлопковая", "Пахта футболка", 350, 790, 10,
       SIZES, "kg", "cn", "uz"),
    _g("KRTK", "clothing", "clothing-men", "Куртка демисезонная", "Күзгү-жазгы куртка", 2900,
       6900, 100, SIZES, "cn", "tr"),
    _g("PHVK", "clothing", "clothing-women", "Пуховик женский", "Аялдар пуховиги", 4900, 11900,
       100, SIZES, "cn"),
    _g("KSTM", "clothing", "clothing-men", "Костюм мужской классический", "Эркектер костюму",
       5900, 14900, 100, SIZES, "tr"),
    _g("SWTR", "clothing", "clothing-women", "Свитер шерстяной", "Жүн свитер", 1490, 3490, 100,
       SIZES, "kg", "tr"),
    _g("SPKD", "clothing", "clothing-kids", "Костюм спортивный детский",
       "Балдардын спорттук костюму", 990, 1990, 100, KIDS, "kg", "cn"),
    _g("PLKD", "clothing", "clothing-kids", "Платье для девочки", "Кыздар үчүн көйнөк", 690,
       1790, 100, KIDS, "kg", "tr"),
    _g("KRSV", "clothing", None, "Кроссовки", "Кроссовка", 1990, 5990, 100, SHOES, "cn", "tr"),
    _g("TUFL", "clothing", None, "Туфли женские", "Аялдар туфлиси", 1890, 4990, 100, SHOES,
       "tr", "cn"),
    _g("BOTN", "clothing", None, "Ботинки зимние мужские", "Эркектердин кышкы бут кийими",
       2990, 6990, 100, SHOES, "cn", "tr", "ru"),
    _g("PLAT", "clothing", "clothing-women", "Платок шёлковый", "Жибек жоолук", 450, 1200, 50,
       COLORS, "uz", "tr"),
    _g("NSKI", "clothing", "clothing-men", "Носки хлопковые, 5 пар", "Пахта байпак, 5 жуп",
       250, 450, 10, NONE, "kg", "cn", "uz"),
    _g("SHKL", "clothing", "clothing-kids", "Школьная форма", "Мектеп формасы", 1900, 3900, 100,
       KIDS, "kg"),
    # electronics
    _g("RDMI", "electronics", "electronics-phones", "Смартфон Redmi 13C", "Redmi 13C смартфону",
       10900, 12900, 100, MEMORY, "cn", brand="Xiaomi"),
    _g("GLXA", "electronics", "electronics-phones", "Смартфон Samsung Galaxy A15",
       "Samsung Galaxy A15 смартфону", 13900, 16900, 100, MEMORY, "kr", "cn", brand="Samsung"),
    _g("TWSN", "electronics", "electronics-accessories", "Наушники беспроводные TWS",
       "Зымсыз кулакчындар TWS", 990, 2990, 10, COLORS, "cn"),
    _g("ZRUS", "electronics", "electronics-accessories", "Зарядное устройство USB-C 20 Вт",
       "USB-C кубаттагыч 20 Вт", 490, 990, 10, NONE, "cn"),
    _g("KBUS", "electronics", "electronics-accessories", "Кабель USB-C, 1 м", "USB-C кабели, 1 м",
       190, 390, 10, NONE, "cn"),
    _g("CHHL", "electronics", "electronics-accessories", "Чехол для смартфона",
       "Смартфон үчүн кап", 250, 590, 10, COLORS, "cn"),
    _g("STKL", "electronics", "electronics-accessories", "Защитное стекло", "Коргоочу айнек",
       200, 450, 10, NONE, "cn"),
    _g("PWBK", "electronics", "electronics-accessories", "Power bank 10000 мА·ч",
       "Power bank 10000 мА·с", 1190, 2490, 10, COLORS, "cn"),
    _g("SMCH", "electronics", "electronics-accessories", "Умные часы", "Акылдуу саат", 2490,
       6990, 100, COLORS, "cn"),
    _g("KLNK", "electronics", None, "Колонка портативная", "Көчмө колонка", 1490, 4990, 100,
       COLORS, "cn"),
    _g("FLSH", "electronics", None, "Флешка 64 ГБ", "64 ГБ флешка", 390, 790, 10, NONE, "cn"),
    _g("MSHK", "electronics", None, "Мышь беспроводная", "Зымсыз чычкан", 390, 1290, 10, COLORS,
       "cn"),
    _g("LMPD", "electronics", None, "Лампа светодиодная 12 Вт", "12 Вт LED лампа", 90, 190, 10,
       NONE, "cn", "ru"),
    # household
    _g("KZAN", "household", None, "Казан чугунный", "Чоюн казан", 1900, 6900, 100,
       ("volume", (("8 л", _1), ("12 л", Decimal("1.35")), ("22 л", Decimal("2.1")))),
       "kz", "ru", "uz"),
    _g("PIAL", "household", None, "Пиалы, набор 6 шт.", "Кесе, 6 даана", 390, 990, 10, NONE,
       "uz", "cn"),
    _g("CHNK", "household", None, "Чайник электрический", "Электр чайнек", 990, 2990, 100,
       COLORS, "cn", "tr"),
    _g("SKVR", "household", None, "Сковорода антипригарная", "Күйбөгөн таба", 790, 2490, 10,
       NONE, "cn", "tr", "ru"),
    _g("TRLK", "household", None, "Тарелки, набор 6 шт.", "Табактар, 6 даана", 590, 1490, 10,
       NONE, "cn", "tr"),
    _g("TRMS", "household", None, "Термос 1 л", "1 л термос", 690, 1690, 10, COLORS, "cn"),
    _g("VDRO", "household", None, "Ведро пластиковое 10 л", "10 л пластик чака", 150, 290, 10,
       NONE, "kg", "kz"),
    _g("PRSK", "household", None, "Порошок стиральный 3 кг", "Кир жуучу порошок 3 кг", 390,
       890, 10, NONE, "ru", "kz", "tr"),
    _g("GBKA", "household", None, "Губки для посуды, 10 шт.", "Идиш жуучу губка, 10 даана", 60,
       150, 10, NONE, "cn", "ru"),
    _g("KVRK", "household", None, "Коврик для ванной", "Ванна килемчеси", 290, 890, 10, COLORS,
       "tr", "cn"),
    _g("NZHI", "household", None, "Нож кухонный", "Ашкана бычагы", 250, 1490, 10, NONE, "cn",
       "de"),
    _g("SUSH", "household", None, "Сушилка для белья", "Кир кургаткыч", 890, 1990, 100, NONE,
       "cn", "tr"),
    # food
    _g("KRGA", "food", "food-dried-fruits", "Курага", "Өрүк кагы", 350, 450, 10, WEIGHTS, "kg",
       "uz"),
    _g("IZUM", "food", "food-dried-fruits", "Изюм", "Мейиз", 250, 350, 10, WEIGHTS, "uz", "kg"),
    _g("ORKH", "food", "food-dried-fruits", "Грецкий орех очищенный", "Тазаланган жаңгак", 450,
       600, 10, WEIGHTS, "kg"),
    _g("MIND", "food", "food-dried-fruits", "Миндаль", "Бадам", 600, 850, 10, WEIGHTS, "uz"),
    _g("MEDB", "food", "food-honey", "Мёд белый горный", "Ак тоо балы", 600, 750, 10, WEIGHTS,
       "kg"),
    _g("KURT", "food", "food-dairy", "Курут", "Курут", 150, 220, 10, WEIGHTS, "kg"),
    _g("ZIRA", "food", "food-spices", "Зира", "Зире", 120, 180, 10, WEIGHTS, "uz", "kg"),
    _g("PRCR", "food", "food-spices", "Перец красный молотый", "Кызыл калемпир", 90, 140, 10,
       WEIGHTS, "kg", "uz"),
    _g("CHZL", "food", "food-tea", "Чай зелёный", "Көк чай", 190, 290, 10, WEIGHTS, "cn", "kg"),
    _g("CHCH", "food", "food-tea", "Чай чёрный гранулированный", "Кара чай", 150, 260, 10,
       WEIGHTS, "kz", "ru"),
    _g("RISD", "food", None, "Рис девзира", "Девзира күрүчү", 180, 260, 10, WEIGHTS, "kg", "uz"),
    _g("MAKR", "food", None, "Макароны", "Макарон", 60, 110, 10, WEIGHTS, "kz", "ru", "kg"),
    _g("MSLO", "food", None, "Масло подсолнечное", "Күн карама майы", 140, 230, 10, VOLUMES,
       "kz", "ru", "kg"),
    _g("KMYS", "food", None, "Кымыз", "Кымыз", 120, 200, 10, VOLUMES, "kg"),
    _g("MAXM", "food", None, "Максым «Шоро»", "Шоро максымы", 40, 60, 5, VOLUMES, "kg"),
    _g("LPSH", "food", None, "Лепёшка тандырная", "Тандыр нан", 30, 50, 5, NONE, "kg"),
    _g("KONF", "food", None, "Конфеты шоколадные", "Шоколад момпосуйлар", 290, 690, 10, WEIGHTS,
       "kg", "ru", "kz"),
    _g("SAHR", "food", None, "Сахар", "Кумшекер", 80, 110, 5, WEIGHTS, "kg", "kz"),
    # cosmetics
    _g("KRMU", "cosmetics", "beauty-cosmetics", "Крем для лица увлажняющий",
       "Бетке нымдуу крем", 490, 1990, 10, NONE, "kr", "ru", "tr"),
    _g("SHMP", "cosmetics", "beauty-care", "Шампунь", "Шампунь", 290, 890, 10, VOLUMES, "ru",
       "tr", "de"),
    _g("POMD", "cosmetics", "beauty-cosmetics", "Помада", "Эрин боёк", 390, 1490, 10, COLORS,
       "kr", "it", "ru"),
    _g("MSKR", "cosmetics", "beauty-cosmetics", "Тушь для ресниц", "Кирпик боёгу", 390, 1290, 10,
       NONE, "kr", "it", "de"),
    _g("MSKA", "cosmetics", "beauty-cosmetics", "Маска тканевая", "Кездеме маска", 60, 150, 10,
       NONE, "kr"),
    _g("MYLO", "cosmetics", "beauty-care", "Мыло ручной работы", "Кол менен жасалган самын",
       150, 350, 10, NONE, "kg"),
    _g("DZDR", "cosmetics", "beauty-care", "Дезодорант", "Дезодорант", 250, 590, 10, NONE, "de",
       "ru", "tr"),
    _g("ZBPS", "cosmetics", "beauty-care", "Зубная паста", "Тиш пастасы", 120, 290, 10, NONE,
       "ru", "de", "kz"),
    _g("PRFM", "cosmetics", "beauty-cosmetics", "Парфюмерная вода 50 мл", "Атыр суусу 50 мл",
       1490, 5990, 100, NONE, "tr", "it"),
    # souvenirs and crafts (TSUM's top floor, Osh bazaar's national goods rows)
    _g("KLPK", "souvenirs", "souvenirs-headwear", "Калпак войлочный", "Кийиз калпак", 1200, 3500,
       100, ("size", (("56", _1), ("58", _1), ("60", _1))), "kg"),
    _g("ELCH", "souvenirs", "souvenirs-headwear", "Элечек", "Элечек", 3500, 9000, 500, NONE,
       "kg"),
    _g("SHRD", "souvenirs", "souvenirs-felt", "Шырдак", "Шырдак", 9000, 35000, 1000,
       ("size", (("1×1.5 м", _1), ("2×3 м", Decimal("2.6")))), "kg"),
    _g("ALKI", "souvenirs", "souvenirs-felt", "Ала-кийиз", "Ала-кийиз", 7000, 25000, 1000, NONE,
       "kg"),
    _g("TPCH", "souvenirs", "souvenirs-felt", "Тапочки войлочные", "Кийиз тапичке", 450, 900,
       50, ("size", (("38", _1), ("40", _1), ("42", _1))), "kg"),
    _g("YURT", "souvenirs", "souvenirs-felt", "Юрта сувенирная", "Сувенир боз үй", 900, 2500,
       100, NONE, "kg"),
    _g("KMUZ", "souvenirs", "souvenirs-music", "Комуз", "Комуз", 4500, 12000, 500, NONE, "kg"),
    _g("TMKM", "souvenirs", "souvenirs-music", "Темир комуз", "Темир комуз", 600, 1500, 100,
       NONE, "kg"),
    _g("CHPN", "souvenirs", None, "Чапан", "Чапан", 3500, 9000, 500, SIZES, "kg", "uz"),
    _g("MGNT", "souvenirs", None, "Магнит «Бишкек»", "«Бишкек» магнити", 100, 250, 10, NONE,
       "kg", "cn"),
    _g("SNDK", "souvenirs", None, "Сандык резной", "Оюу сандык", 2500, 7900, 100, NONE, "kg"),
)

DEPARTMENTS: tuple[str, ...] = (
    "textiles", "clothing", "electronics", "household", "food", "cosmetics", "souvenirs")

# What a shop of a department is called: "{name}" is the owner's first name.
SHOP_NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "textiles": ("Ткани {name}", "{name} Текстиль", "Мир тканей {name}", "{name}: кездемелер",
                 "Текстиль-Дом {name}"),
    "clothing": ("{name} Fashion", "Бутик {name}", "Одежда от {name}", "{name}: кийимдер",
                 "Стиль {name}"),
    "electronics": ("{name} Электроникс", "Мобайл {name}", "Гаджеты {name}",
                    "{name} Digital", "Smart {name}"),
    "household": ("Всё для дома {name}", "{name}: үй буюмдары", "Хозтовары {name}",
                  "Дом и кухня {name}"),
    "food": ("{name}: сухофрукты", "Дары Иссык-Куля {name}", "{name} Азык", "Бакалея {name}",
             "Вкусы Кыргызстана {name}"),
    "cosmetics": ("Красота {name}", "{name} Beauty", "Косметика {name}", "{name}: сулуулук"),
    "souvenirs": ("Кыял {name}", "{name}: кол өнөрчүлүк", "Сувениры {name}", "Ала-Тоо {name}",
                  "Шырдак-Дом {name}"),
}

FIRST_NAMES_F: tuple[str, ...] = (
    "Айгуль", "Бактыгүл", "Нургуль", "Айсулуу", "Жылдыз", "Гульнара", "Динара", "Чолпон",
    "Асель", "Мээрим", "Бермет", "Айпери", "Назгуль", "Гулзат", "Элнура", "Аида", "Сезим",
    "Айжан", "Толгонай", "Каныкей", "Замира", "Бурул", "Венера", "Салтанат", "Алтынай",
)
FIRST_NAMES_M: tuple[str, ...] = (
    "Бакыт", "Нурлан", "Азамат", "Эрлан", "Тимур", "Улан", "Марат", "Руслан", "Бектур",
    "Данияр", "Айбек", "Эмил", "Канат", "Талант", "Мирлан", "Адилет", "Жоомарт", "Нурбек",
    "Алмаз", "Санжар", "Медер", "Кубаныч", "Бекжан", "Чынгыз", "Улукбек",
)
SURNAMES: tuple[str, ...] = (
    "Асанов", "Токтогулов", "Абдыкадыров", "Жумабаев", "Осмонов", "Сатыбалдиев", "Мамытов",
    "Турдубаев", "Бейшеналиев", "Касымов", "Эшенов", "Садыков", "Кадыров", "Орозбеков",
    "Исаков", "Алиев", "Абдраимов", "Джумалиев", "Шаршеев", "Нуралиев", "Каримов", "Усенов",
)

# Mobile operators' codes: O! (50x, 70x), Beeline (77x, 22x), MegaCom (55x, 99x).
PHONE_CODES: tuple[str, ...] = (
    "500", "501", "502", "505", "507", "700", "701", "702", "703", "705", "707", "709",
    "770", "772", "773", "775", "777", "220", "221", "222", "550", "551", "552", "554",
    "555", "557", "559", "990", "995", "997", "999",
)

PAYOUT_BANKS: tuple[str, ...] = ("KICB", "Демир Банк", "Оптима Банк", "Айыл Банк", "РСК Банк",
                                 "Бакай Банк")
