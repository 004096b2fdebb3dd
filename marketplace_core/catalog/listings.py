"""Products as a listing shows them (name in every language, category, the shop's name and
place, the prices of the live variants): one read for many products, used by the ads'
snapshot of sponsored products."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from marketplace_core.catalog.translations import LANGUAGES
from marketplace_core.db import Connection


@dataclass(frozen=True)
class Listing:
    product_id: UUID
    names: dict[str, str]  # language -> name, only the languages it has
    category_id: UUID | None
    shop_name: str
    market: str | None
    shop_lat: float | None
    shop_lon: float | None
    is_bundle: bool
    prices: tuple[Decimal, ...]  # of its live variants, lowest first (empty: not for sale)


_LISTINGS_SQL = f"""
select p.id, {", ".join(f"p.name_{lang}" for lang in LANGUAGES)},
       p.category_id, s.name, s.market, s.lat::float8, s.lon::float8, p.is_bundle,
       array(select v.price from product_variants v
             where v.product_id = p.id and v.deleted_at is null order by v.price)
from products p join shops s on s.id = p.shop_id
where p.id = any(%s) and p.deleted_at is null"""


def listings(conn: Connection, product_ids: Sequence[UUID]) -> dict[UUID, Listing]:
    """The live products among `product_ids` as listings, by id (others are absent)."""
    if not product_ids:
        return {}
    n = len(LANGUAGES)
    found: dict[UUID, Listing] = {}
    for r in conn.execute(_LISTINGS_SQL, (list(product_ids),)).fetchall():
        names = {lang: name for lang, name in zip(LANGUAGES, r[1:1 + n], strict=True) if name}
        category_id, shop_name, market, lat, lon, is_bundle, prices = r[1 + n:]
        found[r[0]] = Listing(r[0], names, category_id, shop_name, market, lat, lon,
                              is_bundle, tuple(prices or ()))
    return found
