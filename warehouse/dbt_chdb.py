"""Run dbt-clickhouse, unchanged, on the embedded chdb engine.

dbt-clickhouse builds its connection in `get_db_client(credentials)` (imported by name into
`dbt.adapters.clickhouse.connections`), which knows the drivers `http` and `native`. Its
HTTP wrapper `ChHttpClient` only talks to a clickhouse-connect `Client`, and
clickhouse-connect's chdb client is a `Client` too. So the hook is:

- `ChdbDbtClient`: `ChHttpClient` whose `_create_client` builds
  `clickhouse_connect.get_client(interface="chdb", path=<profile host>)`;
- `install()`: wraps `get_db_client` so that a profile with `driver: chdb` gets it (the
  profile's `host` is the engine directory); every other profile is untouched.

A profile target using it (see dbt/profiles.yml):

    type: clickhouse
    driver: chdb
    host: "{{ env_var('DBT_CHDB_PATH') }}"   # the warehouse directory
    schema: "{{ env_var('DBT_WAREHOUSE_DATABASE') }}"

The chdb engine admits one process per directory: run dbt inside the process that owns
the warehouse (warehouse.refresh.run_dbt), or with the owner stopped
(`python -m warehouse.dbt_cli ...`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import clickhouse_connect

DRIVER = "chdb"

_install_lock = threading.Lock()


def _client_class() -> type:
    from dbt.adapters.clickhouse.httpclient import ChHttpClient

    class ChdbDbtClient(ChHttpClient):
        """dbt-clickhouse's HTTP client wrapper over an in-process chdb client."""

        def _create_client(self, credentials: Any) -> Any:
            path = credentials.host
            if not path or not Path(path).is_absolute():
                from dbt.adapters.exceptions import FailedToConnectError

                raise FailedToConnectError(
                    f"driver: chdb needs the warehouse directory as absolute `host`, got {path!r}"
                )
            Path(path).mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(
                interface="chdb", path=path, query_limit=0, settings=self._conn_settings
            )

    return ChdbDbtClient


def install() -> None:
    """Teach dbt-clickhouse the `chdb` driver. Idempotent; safe from any thread."""
    from dbt.adapters.clickhouse import connections, dbclient

    with _install_lock:
        if getattr(connections.get_db_client, "_warehouse_chdb", False):
            return
        original = dbclient.get_db_client
        chdb_client = _client_class()

        def get_db_client(credentials: Any) -> Any:
            if credentials.driver == DRIVER:
                return chdb_client(credentials)
            return original(credentials)

        get_db_client._warehouse_chdb = True  # type: ignore[attr-defined]
        dbclient.get_db_client = get_db_client
        connections.get_db_client = get_db_client  # the name the adapter actually calls


def forget_ensured_databases() -> None:
    """Make dbt-clickhouse check (and create) its target database again on the next run.

    dbt-clickhouse remembers, for the life of the process, which databases it has already
    ensured (`dbclient._ensured_databases`). In a process that runs dbt more than once
    that memory goes stale as soon as the warehouse changes under it: another embedded
    directory (tests, a rebuilt warehouse) or a database dropped between runs; the next
    run then skips `CREATE DATABASE` and fails with UNKNOWN_DATABASE. One probe per run
    is cheap, so every run starts without it.
    """
    from dbt.adapters.clickhouse import dbclient

    ensured = getattr(dbclient, "_ensured_databases", None)
    if ensured is None:
        return
    with dbclient._database_lock:
        ensured.clear()
