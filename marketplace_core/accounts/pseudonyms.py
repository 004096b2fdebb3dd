"""Pseudonyms: how an account appears outside the core.

Social and behavioural events carry `pseudo_id`, never the account id. A pseudonym is
HMAC-SHA256(settings.pseudonym_secret, salt || user id) truncated to 128 bits (hex), where
`salt` is random per account and stored in `user_pseudonyms` (so the lake cannot recompute
it from a leaked account id, and erasing the salt makes old events unlinkable).

Erasure (`forget`) deletes the salt row and returns the pseudonym it produced, which the
caller hands to the lake's erasure job to delete that pseudonym's rows.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.db import Connection


def _derive(salt: bytes, user_id: UUID) -> str:
    key = get_settings().pseudonym_secret.encode()
    return hmac.new(key, salt + user_id.bytes, hashlib.sha256).hexdigest()[:32]


def pseudonym(conn: Connection, user_id: UUID) -> str:
    """The account's pseudonym, created on first use (idempotent under concurrency)."""
    cached = _cached.get(user_id)
    if cached is not None:
        return cached
    row = conn.execute("select pseudo_id from user_pseudonyms where user_id = %s",
                       (user_id,)).fetchone()
    if row is None:
        salt = os.urandom(16)
        conn.execute(
            "insert into user_pseudonyms (user_id, salt, pseudo_id) values (%s, %s, %s) "
            "on conflict (user_id) do nothing", (user_id, salt, _derive(salt, user_id)))
        row = conn.execute("select pseudo_id from user_pseudonyms where user_id = %s",
                           (user_id,)).fetchone()
        assert row is not None
    _cached.put(user_id, row[0])
    return str(row[0])


def pseudonyms(conn: Connection, user_ids: list[UUID]) -> dict[UUID, str]:
    """Many at once (one round trip for the known ones)."""
    out = {u: p for u in user_ids if (p := _cached.get(u)) is not None}
    todo = [u for u in set(user_ids) if u not in out]
    if todo:
        for uid, pid in conn.execute(
                "select user_id, pseudo_id from user_pseudonyms where user_id = any(%s)",
                (todo,)).fetchall():
            out[uid] = pid
            _cached.put(uid, pid)
        for uid in todo:
            if uid not in out:
                out[uid] = pseudonym(conn, uid)
    return out


def forget(conn: Connection, user_id: UUID) -> str | None:
    """Erase the account's pseudonym salt; returns the pseudonym that is now orphaned."""
    row = conn.execute("delete from user_pseudonyms where user_id = %s returning pseudo_id",
                       (user_id,)).fetchone()
    _cached.drop(user_id)
    return None if row is None else str(row[0])


def is_opted_out(conn: Connection, user_id: UUID) -> bool:
    row = conn.execute("select analytics_opt_out from users where id = %s",
                       (user_id,)).fetchone()
    return bool(row and row[0])


def set_opt_out(conn: Connection, user_id: UUID, opted_out: bool) -> None:
    conn.execute("update users set analytics_opt_out = %s where id = %s", (opted_out, user_id))


class _Cache:
    """A small per-process map; pseudonyms never change while the salt exists, and `forget`
    drops the entry (other processes may keep serving an erased account's pseudonym until
    they restart, which is harmless: the account no longer sends events)."""

    def __init__(self) -> None:
        self._store: dict[UUID, str] = {}

    def get(self, user_id: UUID) -> str | None:
        return self._store.get(user_id)

    def put(self, user_id: UUID, pid: str) -> None:
        if len(self._store) > 100_000:
            self._store.clear()
        self._store[user_id] = pid

    def drop(self, user_id: UUID) -> None:
        self._store.pop(user_id, None)


_cached = _Cache()


def may_track(conn: Connection, pseudo_id: str) -> bool:
    """Whether events under this pseudonym may still be collected: its salt still exists
    (not erased) and its account has not opted out (used when bad events are replayed)."""
    row = conn.execute(
        "select u.analytics_opt_out from user_pseudonyms p join users u on u.id = p.user_id"
        " where p.pseudo_id = %s", (pseudo_id,)).fetchone()
    return row is not None and not row[0]
