"""Fixtures for the transactional core's tests.

Integration tests never touch the `marketplace` database: the session creates its own
databases (`marketplace_test_<random>`) through the settings' connection and drops them at
the end; the code under test is pointed at them through its `dsn` / connection arguments.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.settings import get_settings
from marketplace_core.migrate import apply_migrations

TEST_DB_PREFIX = "marketplace_test_"


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def admin_dsn() -> str:
    """The settings' DSN; starts the project's PostgreSQL (only it) if it is not up."""
    dsn = get_settings().postgres_dsn
    if not _reachable(dsn):
        from infra.services.postgres import Postgres

        postgres = Postgres()
        postgres.install()
        postgres.start()
    return dsn


@pytest.fixture(scope="session")
def make_database(admin_dsn: str) -> Iterator[Callable[[], str]]:
    """A factory of empty databases for this session; returns each one's DSN."""
    created: list[str] = []

    def make() -> str:
        name = f"{TEST_DB_PREFIX}{secrets.token_hex(6)}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        return make_conninfo(admin_dsn, dbname=name)

    yield make
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def core_dsn(make_database: Callable[[], str]) -> str:
    """A session database with all migrations applied."""
    dsn = make_database()
    apply_migrations(dsn)
    return dsn


@pytest.fixture
def conn(core_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection whose work is rolled back after the test (services use savepoints)."""
    with psycopg.connect(core_dsn) as connection, connection.transaction(force_rollback=True):
        yield connection


@pytest.fixture(scope="session")
def core_api(core_dsn: str) -> Iterator[Any]:
    """The real core API app (in-process, over ASGI) against the session database.

    Its changes are committed, so tests use fresh names/ids of their own. The sweeper is
    off: tests call the sweeps directly to control time.
    """
    from fastapi.testclient import TestClient

    from marketplace_core.api.app import create_app

    with TestClient(create_app(core_dsn, run_sweeper=False)) as client:
        yield client
