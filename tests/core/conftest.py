"""Fixtures for the transactional core's tests.

Integration tests never touch the `marketplace` database: the session creates its own
databases (`make_database`, tests/conftest.py) and drops them at the end; the code under
test is pointed at them through its `dsn` / connection arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tests.in_process_core import core_client, migrated_database


@pytest.fixture(scope="session")
def core_dsn(make_database: Callable[[], str]) -> str:
    """A session database with all migrations applied."""
    return migrated_database(make_database)


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
    with core_client(core_dsn) as client:
        yield client
