"""PostgreSQL 15 from Debian's packages, run as the project's own cluster in `.local/`.

The server refuses to run as root, so on a root machine the cluster belongs to the
`postgres` system user that Debian's package creates, and commands run through runuser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg

from infra import process
from infra.services.base import Health, Service
from infra.settings import get_settings

PG_MAJOR = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
APT_PACKAGES = [f"postgresql-{PG_MAJOR}", "postgresql-contrib"]


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class Postgres(Service):
    name = "postgres"
    ready_timeout = 60.0

    def __init__(self) -> None:
        s = get_settings()
        self.s = s
        self.managed = s.postgres_dsn_override is None
        self.data = s.data_dir / "postgres"
        self.socket_dir = s.run_dir / "pg-socket"

    def install(self) -> None:
        if (PG_BIN / "postgres").exists():
            return
        print(f"  installing {' '.join(APT_PACKAGES)} from Debian's packages", flush=True)
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        # Debian starts its own system cluster on install; ours is separate, stop theirs.
        subprocess.run(["service", "postgresql", "stop"], check=False, capture_output=True)

    def _init_cluster(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        print(f"  initdb {self.data}", flush=True)
        self.data.mkdir(parents=True, exist_ok=True)
        pwfile = self.s.run_dir / "pg-initpw"
        pwfile.parent.mkdir(parents=True, exist_ok=True)
        pwfile.write_text(self.s.postgres_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            _as_owner([
                str(PG_BIN / "initdb"), "-D", str(self.data), "-U", self.s.postgres_user,
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]),
            check=True, capture_output=True,
        )
        pwfile.unlink()

    def launch(self) -> None:
        self._init_cluster()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        logs = process.log_file(self.name)
        logs.parent.mkdir(parents=True, exist_ok=True)
        logs.touch()
        if os.geteuid() == 0:
            shutil.chown(self.socket_dir, "postgres", "postgres")
            shutil.chown(logs, "postgres", "postgres")
        process.spawn(
            self.name,
            _as_owner([
                str(PG_BIN / "postgres"), "-D", str(self.data),
                "-c", f"port={self.s.postgres_port}",
                "-c", f"listen_addresses={self.s.postgres_host}",
                "-c", f"unix_socket_directories={self.socket_dir}",
                "-c", "max_connections=200",
                "-c", "shared_buffers=256MB",
                "-c", "wal_level=logical",
                "-c", "timezone=UTC",
            ]),
        )

    def health(self) -> Health:
        try:
            with psycopg.connect(self._admin_dsn("postgres"), connect_timeout=2) as conn:
                version = conn.execute("show server_version").fetchone()
            return Health(True, f"PostgreSQL {version[0] if version else '?'}")
        except psycopg.Error as exc:
            return Health(False, str(exc).strip().splitlines()[0])

    def _admin_dsn(self, db: str) -> str:
        return self.s.postgres_dsn if not self.managed else self.s._dsn(db)

    def after_start(self) -> None:
        if self.managed:
            with psycopg.connect(self._admin_dsn("postgres"), autocommit=True) as conn:
                for db in (self.s.postgres_db, self.s.registry_db):
                    exists = conn.execute("select 1 from pg_database where datname = %s", (db,))
                    if exists.fetchone() is None:
                        conn.execute(f'create database "{db}"')
        # The core's schema is versioned with the code: bring it up to date on every start
        # (idempotent; an edited, already-applied migration stops the start with an error).
        # A child process: infra imports nothing from the application.
        done = process.run_module("marketplace_core.migrate",
                                  env={"POSTGRES_DSN": self.s.postgres_dsn})
        if done.returncode != 0:
            raise RuntimeError("core migrations failed:\n" + (done.stderr or done.stdout)[-2000:])
        out = done.stdout.strip()
        if out.startswith("applied: "):
            print(f"    applied core migrations: {out.removeprefix('applied: ')}", flush=True)
