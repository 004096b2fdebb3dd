"""Merchants: a seller's business, which shops hang off (catalog aggregate)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.catalog.events import (
    emit_merchant_changed,
)
from marketplace_core.catalog.records import (
    _MERCHANT_COLS,
    Merchant,
    _fetch_one,
    _insert,
    _require_text,
)
from marketplace_core.db import Connection


def create_merchant(conn: Connection, name: str, *, id: UUID | None = None) -> Merchant:
    """A merchant (a seller's business). Emits merchant.created."""
    name = _require_text(name, "name")
    with conn.transaction():
        result: Merchant = _insert(
            conn, Merchant,
            f"insert into merchants (id, name) values (coalesce(%(id)s, gen_random_uuid()), "
            f"%(name)s) returning {_MERCHANT_COLS}",
            {"id": id, "name": name},
        )
        emit_merchant_changed(conn, result.id, "merchant.created")
    return result


def get_merchant(conn: Connection, merchant_id: UUID) -> Merchant | None:
    row: Merchant | None = _fetch_one(
        conn, Merchant, f"select {_MERCHANT_COLS} from merchants where id = %s", (merchant_id,))
    return row


def get_merchants(conn: Connection, merchant_ids: Sequence[UUID]) -> list[Merchant]:
    """The merchants with these ids, oldest first (unknown ids are skipped)."""
    with conn.cursor(row_factory=class_row(Merchant)) as cur:
        return cur.execute(
            f"select {_MERCHANT_COLS} from merchants where id = any(%s)"
            " order by created_at, id".encode(),
            (list(merchant_ids),),
        ).fetchall()


def merchant_exists(conn: Connection, merchant_id: UUID) -> bool:
    return conn.execute(
        "select 1 from merchants where id = %s", (merchant_id,)).fetchone() is not None


def lock_merchant(conn: Connection, merchant_id: UUID, *, shared: bool = False) -> bool:
    """Lock the merchant's row until the caller's transaction ends (FOR UPDATE, or FOR
    SHARE with `shared`): serialises changes that hang off one merchant. False: no such
    merchant."""
    sql = ("select id from merchants where id = %s for share" if shared
           else "select id from merchants where id = %s for update")
    return conn.execute(sql, (merchant_id,)).fetchone() is not None
