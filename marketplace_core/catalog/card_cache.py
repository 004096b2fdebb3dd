"""A per-process cache of rendered product cards, never stale once a change has committed.

Why this design (issue 11 §4). The API runs as several processes (uvicorn workers, hosts),
so a cache inside one process must learn about changes made by any of them, and by code
that is not the API at all (an order's stock reservation, the POS ingest, the sweeper, a
fix in psql). Two ways were weighed:

* Invalidation messages (LISTEN/NOTIFY fired in the writer's transaction, or an
  after-commit hook, or the core.* outbox topics): the message travels after the commit,
  so for a few milliseconds (seconds if the listener thread or the broker lags, forever if
  a connection silently dropped it) another process still serves the old price. "Never
  stale after the commit" cannot be promised that way.
* Row versions in Postgres (chosen): every committed insert, update or delete gives the
  row a new version whose `xmin` is the writing transaction's id, whichever code path made
  the change (the seller's API, an order's stock reservation, the POS ingest, psql). Each
  read asks Postgres, in one small statement, for the xmin of the product, its shop, its
  variants and its bundle components (with their products), plus a categories epoch
  (migration 0024_catalog_card_versions.sql; the path is a recursive walk), and serves the
  cached body only if that fingerprint is the one it was built under. A change is visible
  to that statement exactly when it commits, in every process. Nothing is written for the
  cache: no extra row, lock or trigger on the order path (a version row per product, bumped
  by triggers, was tried first: it serialised orders of different variants of one product
  and could deadlock two multi-product orders).

Filling is race-free without locks: the versions are read BEFORE the card, so the stored
body is at least as new as the versions it is filed under; a change committed in between
only makes the next read refill (a wasted fill, never a stale answer).

The cache holds whatever the caller renders (the API stores the JSON bytes, so a hit also
skips building and serialising the response model). Least recently used entries go first
beyond `max_entries`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar
from uuid import UUID

from marketplace_core.catalog.card import ProductCard, get_product_card
from marketplace_core.catalog.translations import require_language
from marketplace_core.db import Connection

T = TypeVar("T")

# The row versions one card is built from (the same rows as catalog.card's statement);
# no row: no such product (the card statement then says so too). A row version's xmin only
# repeats after 2^32 transactions; a dump/restore changes every xmin (misses, never stale).
VERSION_SQL = """
select p.xmin::text, s.xmin::text, (select epoch from catalog_card_epoch),
       array(select v.xmin::text from product_variants v
             where v.product_id = p.id order by v.id),
       array(select bi.xmin::text || '.' || c.xmin::text || '.' || cp.xmin::text
             from bundle_items bi
             join product_variants c on c.id = bi.component_variant_id
             join products cp on cp.id = c.product_id
             where bi.bundle_product_id = p.id order by bi.component_variant_id)
from products p join shops s on s.id = p.shop_id
where p.id = %s
"""

Version = tuple[object, ...]


def card_version(conn: Connection, product_id: UUID) -> Version | None:
    row = conn.execute(VERSION_SQL, (product_id,)).fetchone()
    return None if row is None else (row[0], row[1], row[2], tuple(row[3]), tuple(row[4]))


class CardCache(Generic[T]):
    """Rendered cards by (product id, language), checked against Postgres on every read."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[UUID, str], tuple[Version, T]] = (
            OrderedDict())
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, conn: Connection, product_id: UUID, lang: str,
            render: Callable[[ProductCard], T]) -> T | None:
        """The rendered card of a live product in `lang`, or None if there is none.
        `conn` should be an autocommit connection (each statement its own snapshot)."""
        lang = require_language(lang)
        key = (product_id, lang)
        version = card_version(conn, product_id)
        with self._lock:
            entry = self._entries.get(key)
            if version is None:
                self._entries.pop(key, None)
                return None
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
        self.misses += 1
        card = get_product_card(conn, product_id, lang)
        if card is None:
            with self._lock:
                self._entries.pop(key, None)
            return None
        value = render(card)
        with self._lock:
            # a slower fill may overwrite a newer one: the next read then sees other
            # versions in Postgres and refills (a miss, never a stale answer)
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

