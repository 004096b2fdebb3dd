"""Seller-scoped reads behind Postgres row-level security (migration 0019): the second wall.

The API checks ownership in code (`marketplace_core.accounts.ownership`). A handler that
reads a seller's data also runs its queries inside `seller_scope`: the transaction
switches to the role `core_seller_reader` (select-only, on the seller-owned tables) and
sets `app.merchant_ids` to the seller's merchants, so even a query that forgets its
shop or merchant filter returns only that seller's rows, and cannot write.

Admins (and analysts) read without a scope: they see every merchant by design.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from psycopg import pq

from marketplace_core.accounts.ownership import merchant_ids_of
from marketplace_core.audit.log import Actor
from marketplace_core.db import Connection

READER_ROLE = "core_seller_reader"
UNSCOPED_ROLES = ("admin", "analyst")


@contextmanager
def merchant_scope(conn: Connection, merchant_ids: list[UUID]) -> Iterator[Connection]:
    """Within the block, `conn` reads only these merchants' rows (and writes nothing).
    Needs an open transaction: the settings are transaction-local, so a connection given
    back to the pool never keeps them, even if the block fails."""
    if conn.info.transaction_status != pq.TransactionStatus.INTRANS:
        raise RuntimeError("merchant_scope needs an open transaction")
    ids = "{" + ",".join(str(m) for m in merchant_ids) + "}"
    conn.execute("select set_config('app.merchant_ids', %s, true)", (ids,))
    conn.execute(f"set local role {READER_ROLE}")
    try:
        yield conn
    finally:
        if conn.info.transaction_status == pq.TransactionStatus.INTRANS:
            conn.execute("set local role none")
            conn.execute("select set_config('app.merchant_ids', '', true)")


@contextmanager
def seller_scope(conn: Connection, user: Actor) -> Iterator[Connection]:
    """`merchant_scope` for the user's merchants (none for a buyer: nothing is seen); no
    scope for admins and analysts, who read every merchant."""
    if user.role in UNSCOPED_ROLES:
        yield conn
        return
    with merchant_scope(conn, merchant_ids_of(conn, user.id)) as scoped:
        yield scoped
