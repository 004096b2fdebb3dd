"""Pseudonyms: stable per account, distinct across accounts, forgotten on erasure."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg

from marketplace_core.accounts import pseudonyms


def _user(conn: psycopg.Connection[Any]) -> UUID:
    uid = uuid4()
    conn.execute(
        "insert into users (id, email, full_name, password_hash, role) "
        "values (%s, %s, 'Тест', 'x', 'buyer')", (uid, f"{uid}@example.kg"))
    return uid


def test_pseudonym_is_stable_distinct_and_forgettable(conn: psycopg.Connection[Any]) -> None:
    a, b = _user(conn), _user(conn)
    pa = pseudonyms.pseudonym(conn, a)
    assert pa == pseudonyms.pseudonym(conn, a)
    assert len(pa) == 32 and a.hex not in pa
    assert pseudonyms.pseudonyms(conn, [a, b])[b] != pa
    assert pseudonyms.forget(conn, a) == pa
    assert pseudonyms.pseudonym(conn, a) != pa  # a new salt: the old pseudonym is orphaned
    assert not pseudonyms.is_opted_out(conn, a)
    pseudonyms.set_opt_out(conn, a, True)
    assert pseudonyms.is_opted_out(conn, a)
