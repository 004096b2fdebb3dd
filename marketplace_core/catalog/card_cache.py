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
* Versions in Postgres (chosen): triggers bump a version in the same transaction as the
  change (migration 0024_catalog_card_versions.sql lists what counts: the product, its variants'
  price/stock/attributes/deletion, bundle items and components, and one epoch for shop
  and category changes). Each read asks Postgres for the committed versions of that one
  product -- one primary-key lookup on a two-column table, far cheaper than the card's
  statement -- and serves the cached body only if they are the ones it was built under.
  A change is visible to that lookup exactly when it commits, in every process.

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

# The committed versions one card depends on. No row yet = version 0 (the product has not
# changed since the migration, or does not exist; the card statement decides which).
VERSION_SQL = """
select coalesce((select version from catalog_card_versions where product_id = %s), 0),
       (select epoch from catalog_card_epoch)
"""


def card_version(conn: Connection, product_id: UUID) -> tuple[int, int]:
    row = conn.execute(VERSION_SQL, (product_id,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class CardCache(Generic[T]):
    """Rendered cards by (product id, language), checked against Postgres on every read."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[UUID, str], tuple[tuple[int, int], T]] = (
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

