"""`outbox.batched`: a block's events are one INSERT at its end, in emit order; an
exception leaves none of them behind."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from marketplace_core import outbox
from marketplace_core.catalog import service as catalog
from marketplace_core.outbox.writer import decode
from schemas.topics import CORE_MERCHANTS

Conn = psycopg.Connection[Any]


def _merchant_events(conn: Conn, since: int) -> list[tuple[str, str]]:
    rows = conn.execute("select entity_id, payload from outbox where id > %s and topic = %s"
                        " order by id", (since, CORE_MERCHANTS.name)).fetchall()
    return [(r[0], decode(CORE_MERCHANTS, r[1])["name"]) for r in rows]


def _last_id(conn: Conn) -> int:
    return int(conn.execute("select coalesce(max(id), 0) from outbox").fetchone()[0])  # type: ignore[index]


def test_a_batch_writes_its_events_in_order_at_its_end(conn: Conn) -> None:
    start = _last_id(conn)
    with conn.transaction(), outbox.batched(conn):
        names = [f"Batch {i}" for i in range(3)]
        made = [catalog.create_merchant(conn, name) for name in names]
        # nothing is in the outbox until the block ends
        assert _merchant_events(conn, start) == []
    assert _merchant_events(conn, start) == [(str(m.id), m.name) for m in made]


def test_an_exception_discards_the_batch_and_nested_blocks_write_once(conn: Conn) -> None:
    start = _last_id(conn)
    with pytest.raises(RuntimeError), conn.transaction(), outbox.batched(conn):
        catalog.create_merchant(conn, "Lost")
        raise RuntimeError("rolled back")
    assert _merchant_events(conn, start) == []
    with conn.transaction(), outbox.batched(conn):
        catalog.create_merchant(conn, "Outer")
        with outbox.batched(conn):
            catalog.create_merchant(conn, "Inner")
        assert _merchant_events(conn, start) == []  # the outermost block writes
    assert [name for _, name in _merchant_events(conn, start)] == ["Outer", "Inner"]
