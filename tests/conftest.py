"""Shared fixtures: the real local stack, started (idempotently) once per session."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.settings import get_settings


@pytest.fixture(scope="session")
def stack() -> None:
    """PostgreSQL, MinIO, Kafka, the schema registry and Spark's jars, up and healthy."""
    from infra.services import infrastructure

    for svc in infrastructure():
        svc.install()
        svc.start()



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
def spark_session(stack: None) -> Iterator[object]:
    """One Spark session for every test that needs Spark (a JVM is expensive on 2 cores).

    Built with the real local dir (the cached jars); lake locations are read from the
    settings at each call, so a test points it at its own lake with LAKE_PREFIX.
    """
    from pipelines.spark_session import build_session

    with pytest.MonkeyPatch.context() as mp:  # a module may have moved the local dir
        mp.setenv("PLATFORM_LOCAL_DIR", REAL_LOCAL_DIR)
        get_settings.cache_clear()
        session = build_session("tests")
    get_settings.cache_clear()
    yield session
    session.stop()


# The real local dir (Spark's jar cache lives there), read before any test patches the env.
REAL_LOCAL_DIR = str(get_settings().local_dir)
