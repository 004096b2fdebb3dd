"""The core on a database of a test package's own, in process, defined once for the
conftests that need one: `migrated_database(make_database)` gives the DSN, `core_client(dsn)`
the app over ASGI. The fixtures keep their own names and scopes (module, session)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from marketplace_core.migrate import apply_migrations


def migrated_database(make_database: Callable[[], str]) -> str:
    """A fresh database from `make_database` with all the core's migrations applied."""
    dsn = make_database()
    apply_migrations(dsn)
    return dsn


@contextmanager
def core_client(dsn: str, *, raise_server_exceptions: bool = True) -> Iterator[Any]:
    """The real core API app over ASGI (a FastAPI TestClient) on `dsn`, its sweeper off:
    tests call the sweeps directly to control time."""
    from fastapi.testclient import TestClient

    from marketplace_core.api.app import create_app

    with TestClient(create_app(dsn, run_sweeper=False),
                    raise_server_exceptions=raise_server_exceptions) as client:
        yield client
