"""Versioned SQL migrations for the core database.

Files `migrations/NNNN_name.sql` are applied in name order, each in its own transaction
together with its row in `schema_migrations` (name, sha256, applied_at). A session-level
Postgres advisory lock serialises concurrent runs: the second waits, then finds nothing to
do. An applied file whose content changed is an error (write a new migration instead).

After the SQL files of the core itself, secrets still stored plain are sealed
(`marketplace_core.reseal`, plain-only: a no-op once everything is sealed), a step SQL
cannot do since the key lives in the settings.

    python -m marketplace_core.migrate
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from marketplace_core.db import connect
from marketplace_core.errors import DomainError, ErrorCode

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
# Arbitrary but fixed: "bazaar" as ASCII digits. Shared by every migrator process.
ADVISORY_LOCK_KEY = 0x62617A616172

_CREATE_TABLE = b"""
create table if not exists schema_migrations (
    name        text primary key,
    checksum    text not null,
    applied_at  timestamptz not null default now()
)
"""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: bytes

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    """The migration files in name order (default folder: `MIGRATIONS_DIR`)."""
    found: list[Migration] = []
    for path in sorted((directory or MIGRATIONS_DIR).iterdir()):
        if path.suffix != ".sql":
            continue
        if not MIGRATION_NAME.match(path.name):
            raise ValueError(f"migration file name must look like 0001_name.sql: {path.name}")
        found.append(Migration(path.stem, path.read_bytes()))
    return found


def apply_migrations(dsn: str | None = None, *, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied by this call (empty if none).

    `dsn` defaults to the settings' `postgres_dsn`; `directory` to `MIGRATIONS_DIR`.
    Raises MIGRATION_CHANGED if an applied migration's file no longer matches.
    """
    migrations = discover(directory)
    applied_now: list[str] = []
    with connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            with conn.transaction():
                conn.execute(_CREATE_TABLE)
            rows = conn.execute("select name, checksum from schema_migrations").fetchall()
            done: dict[str, str] = {name: checksum for name, checksum in rows}
            for m in migrations:
                if m.name in done:
                    if done[m.name] != m.checksum:
                        raise DomainError(
                            ErrorCode.MIGRATION_CHANGED,
                            f"migration {m.name} was applied but its file has changed",
                        )
                    continue
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute(
                        "insert into schema_migrations (name, checksum) values (%s, %s)",
                        (m.name, m.checksum),
                    )
                applied_now.append(m.name)
            if directory is None:
                from marketplace_core.reseal import reseal_all

                with conn.transaction():
                    reseal_all(conn, plain_only=True)
        finally:
            if not conn.closed:
                conn.execute("select pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return applied_now


def main() -> None:
    applied = apply_migrations()
    if applied:
        print("applied: " + ", ".join(applied))
    else:
        print("schema is up to date")


if __name__ == "__main__":
    main()
