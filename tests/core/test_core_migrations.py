"""Migrations: idempotent, safe under concurrent runs, refuse edited history."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from marketplace_core.errors import DomainError, ErrorCode
from marketplace_core.migrate import ADVISORY_LOCK_KEY, MIGRATIONS_DIR, apply_migrations, discover

pytestmark = pytest.mark.integration

ALL = [m.name for m in discover()]
# A sample across the domains, not the full list (each domain's tests check its own).
CORE_TABLES = {"merchants", "shops", "categories", "products", "product_variants",
               "pos_devices", "schema_migrations", "outbox", "outbox_relay_positions",
               "users", "audit_log", "orders", "order_items", "shop_eligibility"}


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def _applied(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("select name from schema_migrations order by name")]


def test_discovers_numbered_files_in_order() -> None:
    assert ALL[:2] == ["0001_catalog", "0002_pos"]
    assert sorted(ALL) == ALL


def test_apply_is_idempotent(make_database: Callable[[], str]) -> None:
    dsn = make_database()
    assert apply_migrations(dsn) == ALL
    assert apply_migrations(dsn) == []
    assert apply_migrations(dsn) == []
    assert _tables(dsn) >= CORE_TABLES
    assert _applied(dsn) == ALL


def test_concurrent_runs_apply_once(make_database: Callable[[], str]) -> None:
    dsn = make_database()
    barrier = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(apply_migrations(dsn))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(results, key=len) == [[], ALL]
    assert _applied(dsn) == ALL


def test_a_run_waits_for_the_lock_holder(make_database: Callable[[], str]) -> None:
    dsn = make_database()
    result: list[list[str]] = []
    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        worker = threading.Thread(target=lambda: result.append(apply_migrations(dsn)))
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), "the migrator must block while another run holds the lock"
        assert "schema_migrations" not in _tables(dsn)
        holder.execute("select pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    worker.join(timeout=30)
    assert result == [ALL]


def test_failed_migration_rolls_back_only_itself(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    dsn = make_database()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "9999_broken.sql").write_text(
        "create table half_done (id int);\nselect * from no_such_table;\n")
    with pytest.raises(psycopg.errors.UndefinedTable):
        apply_migrations(dsn, directory=tmp_path)
    assert _applied(dsn) == ALL
    assert "half_done" not in _tables(dsn)
    (tmp_path / "9999_broken.sql").write_text("create table half_done (id int);\n")
    assert apply_migrations(dsn, directory=tmp_path) == ["9999_broken"]


def test_edited_migration_is_refused(make_database: Callable[[], str], tmp_path: Path) -> None:
    dsn = make_database()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    apply_migrations(dsn, directory=tmp_path)
    edited = tmp_path / "0002_pos.sql"
    edited.write_text(edited.read_text() + "\n-- edited after the fact\n")
    with pytest.raises(DomainError) as info:
        apply_migrations(dsn, directory=tmp_path)
    assert info.value.code == ErrorCode.MIGRATION_CHANGED
