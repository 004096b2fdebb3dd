"""The warehouse client and the dbt hook, on an embedded chdb warehouse (no services)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from infra.settings import REPO_ROOT, get_settings
from pipelines.lake_catalog import by_name
from warehouse import dbt_chdb
from warehouse.client import close_clients, get_client, http_target
from warehouse.refresh import dbt_env


def test_client_is_per_thread_and_embedded(warehouse_env: Path) -> None:
    s = get_settings()
    assert s.embedded_warehouse and s.warehouse_path.is_relative_to(warehouse_env)
    c = get_client()
    assert get_client() is c
    assert c.query("SELECT toDecimal64('12.30', 2) AS x").result_rows == [(Decimal("12.30"),)]
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(get_client()))
    t.start()
    t.join()
    assert other and other[0] is not c
    assert s.warehouse_path.joinpath("status").exists()


def test_many_threads_read_while_tables_are_swapped(warehouse_env: Path) -> None:
    """Readers on their own handles never fail while another handle swaps the table."""
    w = get_client()
    w.command("CREATE DATABASE IF NOT EXISTS thr")
    w.command("CREATE OR REPLACE TABLE thr.t (x Int64) ENGINE MergeTree ORDER BY x")
    w.command("INSERT INTO thr.t SELECT number FROM numbers(1000)")
    stop = threading.Event()
    errors: list[str] = []
    reads = [0]

    def reader() -> None:
        c = get_client()
        while not stop.is_set():
            try:
                n, total = c.query("SELECT count(), sum(x) FROM thr.t").result_rows[0]
                assert (n, total) == (1000, 499500)
                reads[0] += 1
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for r in readers:
        r.start()
    try:
        for _ in range(15):
            w.command("CREATE OR REPLACE TABLE thr.n (x Int64) ENGINE MergeTree ORDER BY x")
            w.command("INSERT INTO thr.n SELECT number FROM numbers(1000)")
            w.command("EXCHANGE TABLES thr.t AND thr.n")
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert errors == []
    assert reads[0] > 0


def test_second_process_cannot_open_the_warehouse(warehouse_env: Path) -> None:
    get_client().query("SELECT 1")
    code = (
        "import clickhouse_connect, sys\n"
        "try:\n"
        "    clickhouse_connect.get_client(interface='chdb', path=sys.argv[1])\n"
        "except Exception as e:\n"
        "    print('REFUSED', e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(get_settings().warehouse_path)],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )
    # The engine's detail ("Cannot lock file .../status") goes to stdout or stderr
    # depending on timing; the refusal itself is what matters.
    assert "REFUSED" in proc.stdout
    assert "Cannot lock file" in proc.stdout + proc.stderr or "EmbeddedServer" in proc.stdout


def test_close_clients_releases_the_engine(warehouse_env: Path) -> None:
    old = get_client()
    close_clients()
    new = get_client()
    assert new is not old
    assert new.query("SELECT 1").result_rows == [(1,)]


def test_dbt_hook_is_idempotent_and_builds_a_chdb_client(warehouse_env: Path) -> None:
    from dbt.adapters.clickhouse import connections
    from dbt.adapters.clickhouse.credentials import ClickHouseCredentials
    from dbt.adapters.clickhouse.httpclient import ChHttpClient

    dbt_chdb.install()
    hook = connections.get_db_client
    dbt_chdb.install()
    assert connections.get_db_client is hook
    creds = ClickHouseCredentials(
        driver="chdb", host=str(get_settings().warehouse_path), schema="hooktest"
    )
    client = hook(creds)
    try:
        assert isinstance(client, ChHttpClient)
        assert client.atomic_exchange  # EXCHANGE TABLES works on chdb's Atomic databases
        assert client.command("SELECT engine FROM system.databases WHERE name = 'hooktest'") == (
            "Atomic"
        )
    finally:
        client.close()


def test_dbt_env_embedded_and_server(
    warehouse_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = get_settings()
    env = dbt_env(s)
    assert env["DBT_WAREHOUSE_TARGET"] == "embedded"
    assert env["DBT_CHDB_PATH"] == str(s.warehouse_path)
    lake_tables = json.loads(env["DBT_LAKE_TABLES"])
    receipts = by_name("core_pos_receipts")
    assert lake_tables["core_pos_receipts"] == s.lake_http_url(receipts.silver_path)
    assert lake_tables["bronze_core_pos_receipts"] == s.lake_http_url(receipts.bronze_path)
    assert env["DBT_TIMEZONE"] == s.timezone
    assert env["DBT_ENV_SECRET_LAKE_SECRET_KEY"] == s.s3_secret_key

    monkeypatch.setenv("CLICKHOUSE_URL", "https://user:pw@ch.example.test")
    get_settings.cache_clear()
    try:
        srv = get_settings()
        t = http_target(srv)
        assert (t["host"], t["port"], t["secure"], t["username"]) == (
            "ch.example.test", 8443, True, "user",
        )
        env = dbt_env(srv)
        assert env["DBT_WAREHOUSE_TARGET"] == "server"
        assert env["DBT_CLICKHOUSE_PORT"] == "8443"
        assert env["DBT_ENV_SECRET_CLICKHOUSE_PASSWORD"] == "pw"
    finally:
        monkeypatch.delenv("CLICKHOUSE_URL")
        get_settings.cache_clear()
