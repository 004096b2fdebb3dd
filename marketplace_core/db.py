"""Connections to the core database: a pool factory and a one-transaction helper.

The DSN comes from `infra.settings` unless a caller passes one (tests point the code at
an isolated database this way). Service functions take a `psycopg.Connection` and open
their own (nested) transaction blocks, so they compose inside `transaction(...)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from infra.settings import get_settings

Connection = psycopg.Connection[Any]
ConnectionSource = ConnectionPool | psycopg.Connection[Any] | str | None


def resolve_dsn(dsn: str | None = None) -> str:
    """The DSN to use: the argument if given, else the settings' `postgres_dsn`."""
    return dsn or get_settings().postgres_dsn


def open_pool(
    dsn: str | None = None,
    *,
    min_size: int = 1,
    max_size: int = 10,
    name: str = "marketplace_core",
    timeout: float = 30.0,
    autocommit: bool = False,
    read_only: bool = False,
    wait: bool = True,
) -> ConnectionPool:
    """An opened psycopg pool on the core database; close it (or use `with`) when done.

    `autocommit=True` gives connections for single-statement reads: no BEGIN/COMMIT
    round trips around a lone SELECT. `read_only=True` makes every transaction of its
    connections read-only (the server refuses any write): for readers outside the core,
    such as the serving API. `wait=False` returns at once and connects in the background
    (a borrower waits up to `timeout`)."""
    kwargs: dict[str, Any] = {"autocommit": autocommit}
    if read_only:
        kwargs["options"] = "-c default_transaction_read_only=on"
    pool = ConnectionPool(
        resolve_dsn(dsn),
        min_size=min_size,
        max_size=max_size,
        name=name,
        timeout=timeout,
        kwargs=kwargs,
        open=False,
    )
    pool.open(wait=wait, timeout=timeout)
    return pool


def connect(dsn: str | None = None, *, autocommit: bool = False) -> Connection:
    """A single new connection (for scripts and the migrator); the caller closes it."""
    return psycopg.connect(resolve_dsn(dsn), autocommit=autocommit)


@contextmanager
def transaction(source: ConnectionSource = None) -> Iterator[Connection]:
    """Run a block in one transaction and yield its connection.

    `source` may be a pool (a connection is borrowed and returned), an open connection
    (a transaction block is opened on it — a savepoint if one is already running), a DSN,
    or None (the settings' DSN). Commits on normal exit, rolls back on an exception.
    """
    if isinstance(source, ConnectionPool):
        with source.connection() as conn, conn.transaction():
            yield conn
    elif isinstance(source, psycopg.Connection):
        with source.transaction():
            yield source
    else:
        with connect(source) as conn, conn.transaction():
            yield conn


def advisory_xact_lock(conn: Connection, key: int) -> None:
    """Take a transaction-scoped Postgres advisory lock (released at commit/rollback)."""
    conn.execute("select pg_advisory_xact_lock(%s)", (key,))


def violated_constraint(exc: psycopg.Error) -> str | None:
    """The constraint (or unique index) name a Postgres integrity error reports."""
    return exc.diag.constraint_name
