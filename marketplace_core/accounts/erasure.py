"""Erasing an account's behavioural trail (the analytics side of "forget me").

`erase_analytics` deletes the account's pseudonym salt (`pseudonyms.forget`), so events
already in Kafka and the lake can no longer be tied to the account, and records the
orphaned pseudonym in `erased_pseudonyms`, which the lake's erasure job reads through
`erased_pseudonyms_since` to delete the rows carrying it. The account itself is kept
(deleting accounts is not implemented here); if it goes on using the apps it gets a
new, unrelated pseudonym.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from marketplace_core.accounts import pseudonyms
from marketplace_core.db import Connection


def erase_analytics(conn: Connection, user_id: UUID) -> tuple[str, datetime] | None:
    """Forget the account's pseudonym; returns (orphaned pseudonym, erased_at), or None
    if it had none (never sent an event, or already erased)."""
    pseudo_id = pseudonyms.forget(conn, user_id)
    if pseudo_id is None:
        return None
    row = conn.execute(
        "insert into erased_pseudonyms (pseudo_id) values (%s) on conflict (pseudo_id)"
        " do update set erased_at = erased_pseudonyms.erased_at returning erased_at",
        (pseudo_id,)).fetchone()
    assert row is not None
    return pseudo_id, row[0]


def erased_pseudonyms_since(conn: Connection, since: datetime) -> list[tuple[str, datetime]]:
    """Pseudonyms erased at or after `since`, oldest first: (pseudo_id, erased_at)."""
    rows = conn.execute(
        "select pseudo_id, erased_at from erased_pseudonyms where erased_at >= %s"
        " order by erased_at, pseudo_id", (since,)).fetchall()
    return [(str(p), at) for p, at in rows]


def is_erased(conn: Connection, pseudo_id: str) -> bool:
    row = conn.execute("select 1 from erased_pseudonyms where pseudo_id = %s",
                       (pseudo_id,)).fetchone()
    return row is not None
