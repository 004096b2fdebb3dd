"""A large synthetic catalog written straight in SQL, for query plans and benchmarks.

    generate_catalog(conn, products=50_000, variants_per_product=2)   # 100k variants

Shops are spread over greater Bishkek, products get Russian and Kyrgyz names from small
word lists (plus a number, so names repeat like real listings do), two-level categories,
KGS prices with tyiyn. Rows go in with set-based INSERTs (no per-row service calls and no
outbox events): this is test data for a throw-away database, never for a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from marketplace_core.db import Connection

_NOUNS_RU = ["Смартфон", "Чехол", "Наушники", "Курага", "Изюм", "Мёд", "Чай", "Платок",
             "Свитер", "Куртка", "Шырдак", "Тапочки", "Комуз", "Крем", "Шампунь", "Игрушка",
             "Конструктор", "Кабель", "Зарядка", "Носки"]
_NOUNS_KY = ["Смартфон", "Кап", "Кулакчын", "Өрүк кагы", "Мейиз", "Бал", "Чай", "Жоолук",
             "Свитер", "Куртка", "Шырдак", "Кийиз тапочка", "Комуз", "Крем", "Шампунь",
             "Оюнчук", "Конструктор", "Кабель", "Кубаттагыч", "Байпак"]
_ADJECTIVES = ["синий", "красный", "большой", "детский", "горный", "шёлковый", "новый",
               "белый", "войлочный", "зелёный"]


@dataclass(frozen=True)
class SyntheticCatalog:
    shops: int
    categories: int
    products: int
    variants: int
    leaf_category_id: UUID
    root_category_id: UUID
    shop_id: UUID


def generate_catalog(
    conn: Connection,
    *,
    products: int = 50_000,
    variants_per_product: int = 2,
    shops: int = 1_000,
    roots: int = 5,
    children_per_root: int = 6,
) -> SyntheticCatalog:
    """Fill an empty, migrated database and ANALYZE it; returns what was made.
    The random parts (locations, prices, stock) are the same on every run."""
    conn.execute("select setseed(0.42)")
    conn.execute("insert into merchants (name) select 'Synthetic ' || g"
                 " from generate_series(1, %s) g", (shops,))
    # lat 42.80..42.95, lon 74.50..74.70: roughly 17 × 16 km around the city
    conn.execute(
        "insert into shops (merchant_id, name, address, phone, lat, lon, market)"
        " select m.id, 'Магазин ' || row_number() over (order by m.id), 'Бишкек',"
        " '+996 555 000 000', round((42.80 + random() * 0.15)::numeric, 6),"
        " round((74.50 + random() * 0.20)::numeric, 6), 'Synthetic' from merchants m")
    conn.execute(
        "insert into categories (slug, name_ru, name_ky)"
        " select 'syn-root-' || r, 'Раздел ' || r, 'Бөлүм ' || r from generate_series(1, %s) r",
        (roots,))
    conn.execute(
        "insert into categories (slug, name_ru, name_ky, parent_id)"
        " select 'syn-leaf-' || r || '-' || c, 'Подраздел ' || r || '.' || c,"
        " 'Бөлүмчө ' || r || '.' || c, p.id"
        " from generate_series(1, %s) r cross join generate_series(1, %s) c"
        " join categories p on p.slug = 'syn-root-' || r", (roots, children_per_root))
    conn.execute(
        """
        with shop_list as (select id, row_number() over (order by id) - 1 as n from shops),
             leaf_list as (select id, row_number() over (order by id) - 1 as n
                           from categories where parent_id is not null)
        insert into products (shop_id, category_id, name_ru, name_ky, description_ru)
        select s.id, c.id,
               (%(nouns_ru)s::text[])[1 + g %% 20] || ' ' || (%(adj)s::text[])[1 + (g / 20) %% 10]
                   || ' ' || g,
               (%(nouns_ky)s::text[])[1 + g %% 20] || ' ' || g,
               'Описание товара номер ' || g
        from generate_series(0, %(products)s - 1) g
        join shop_list s on s.n = g %% %(shops)s
        join leaf_list c on c.n = (g / 7) %% %(leaves)s
        """,
        {"nouns_ru": _NOUNS_RU, "nouns_ky": _NOUNS_KY, "adj": _ADJECTIVES,
         "products": products, "shops": shops, "leaves": roots * children_per_root},
    )
    conn.execute(
        """
        insert into product_variants (product_id, shop_id, sku, attributes, price, stock_qty)
        select p.id, p.shop_id, 'SYN-' || left(p.id::text, 8) || '-' || v,
               jsonb_build_object('size', v), round((50 + random() * 20000)::numeric, 2),
               (random() * 100)::int
        from products p cross join generate_series(1, %s) v
        """,
        (variants_per_product,),
    )
    conn.execute("analyze merchants, shops, categories, products, product_variants")
    leaf = conn.execute(
        "select id, parent_id from categories where slug = 'syn-leaf-1-1'").fetchone()
    shop = conn.execute("select id from shops order by id limit 1").fetchone()
    assert leaf is not None and shop is not None
    return SyntheticCatalog(shops, roots * (1 + children_per_root), products,
                            products * variants_per_product, leaf[0], leaf[1], shop[0])
