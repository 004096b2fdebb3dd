"""Run dbt in this process against the warehouse: one refresh at a time.

dbt reads every location and credential through `env_var()`; `dbt_env()` derives them from
infra.settings (the only source of ports, URLs, paths and keys):

    DBT_PROJECT_DIR, DBT_PROFILES_DIR   <repo>/dbt (dbt's own options, as env vars)
    DBT_WAREHOUSE_TARGET      embedded | server  (profiles.yml target; server iff CLICKHOUSE_URL)
    DBT_CHDB_PATH             the embedded warehouse directory (settings.warehouse_path)
    DBT_CLICKHOUSE_HOST/PORT/SECURE/USER, DBT_ENV_SECRET_CLICKHOUSE_PASSWORD   (server target)
    DBT_WAREHOUSE_DATABASE    schema the models are built in (settings.warehouse_database)
    DBT_LAKE_TABLES           JSON: every lake table ClickHouse reads -> its Delta URL,
                              from the lake catalog (pipelines/lake_catalog.py)
    DBT_LAKE_ACCESS_KEY / DBT_LAKE_SECRET_KEY   S3 keys for ClickHouse's DeltaLake engine
    DBT_ENV_SECRET_LAKE_SECRET_KEY   same secret, only so that dbt scrubs it from its logs
    DBT_TIMEZONE              settings.timezone (business dates, e.g. Asia/Bishkek)

In embedded mode the process calling `run_dbt` must be the one that owns the warehouse
(chdb admits one process per directory); readers in other threads keep working because
tables are replaced with EXCHANGE TABLES on an Atomic database.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.settings import REPO_ROOT, Settings, get_settings
from pipelines.lake_catalog import lake_table_locations
from warehouse import dbt_chdb
from warehouse.client import http_target

DBT_PROJECT_DIR: Path = REPO_ROOT / "dbt"

_refresh_lock = threading.Lock()


@dataclass(frozen=True)
class NodeResult:
    name: str
    unique_id: str
    resource_type: str
    status: str  # success | error | skipped | pass | fail | warn
    seconds: float
    message: str | None
    failures: int | None  # failing rows, for tests


@dataclass(frozen=True)
class RefreshResult:
    success: bool
    seconds: float
    nodes: list[NodeResult] = field(default_factory=list)
    error: str | None = None  # set when dbt itself failed (bad args, config, connection)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]


def dbt_env(settings: Settings | None = None) -> dict[str, str]:
    """The environment variables dbt/profiles.yml and the project's macros read."""
    s = settings or get_settings()
    env = {
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_WAREHOUSE_TARGET": "embedded" if s.embedded_warehouse else "server",
        "DBT_CHDB_PATH": str(s.warehouse_path),
        "DBT_WAREHOUSE_DATABASE": s.warehouse_database,
        "DBT_LAKE_TABLES": json.dumps(
            {name: s.lake_http_url(rel) for name, rel in lake_table_locations().items()},
            sort_keys=True),
        "DBT_LAKE_ACCESS_KEY": s.s3_access_key,
        "DBT_LAKE_SECRET_KEY": s.s3_secret_key,
        # Not read by the project (dbt forbids DBT_ENV_SECRET_* outside profiles.yml): its
        # value is what dbt's logger scrubs, so the key the lake DDL carries never reaches
        # dbt.log or the console.
        "DBT_ENV_SECRET_LAKE_SECRET_KEY": s.s3_secret_key,
        "DBT_TIMEZONE": s.timezone,
    }
    if not s.embedded_warehouse:
        t = http_target(s)
        env |= {
            "DBT_CLICKHOUSE_HOST": t["host"],
            "DBT_CLICKHOUSE_PORT": str(t["port"]),
            "DBT_CLICKHOUSE_SECURE": "true" if t["secure"] else "false",
            "DBT_CLICKHOUSE_USER": t["username"],
            "DBT_ENV_SECRET_CLICKHOUSE_PASSWORD": t["password"],
        }
    return env


def prepare(settings: Settings | None = None) -> None:
    """Export dbt_env() into os.environ and install the chdb driver hook."""
    os.environ.update(dbt_env(settings))
    dbt_chdb.install()
    dbt_chdb.forget_ensured_databases()


REFRESH_TARGET_PATH = "target/refresh"


def run_dbt(args: list[str] | None = None) -> RefreshResult:
    """`dbt <args>` (default `build`) in-process on the repo's dbt project.

    Serialized process-wide: a second caller waits for the running refresh to finish.
    Never raises for dbt failures; inspect `success`, `nodes` and `error`.
    """
    from dbt.cli.main import dbtRunner

    argv = list(args) if args else ["build"]
    if "--target-path" not in argv and not os.environ.get("DBT_TARGET_PATH"):
        # dbt rewrites manifest.json in place; Dagster code locations read target/manifest.json
        # (replaced atomically by orchestration's parse), so runs keep their artifacts apart.
        argv += ["--target-path", REFRESH_TARGET_PATH]
    with _refresh_lock:
        prepare()
        started = time.monotonic()
        res = dbtRunner().invoke(argv)  # project/profiles dir: DBT_PROJECT_DIR/DBT_PROFILES_DIR
        seconds = time.monotonic() - started
    nodes = _node_results(res.result)
    error = None if res.exception is None else f"{type(res.exception).__name__}: {res.exception}"
    if error is None and not res.success and not any(n.message for n in nodes):
        error = "dbt reported failure (see dbt/logs/dbt.log)"
    return RefreshResult(success=bool(res.success), seconds=seconds, nodes=nodes, error=error)


def _node_results(result: Any) -> list[NodeResult]:
    out: list[NodeResult] = []
    for r in getattr(result, "results", None) or []:
        node: Any = getattr(r, "node", None)
        out.append(
            NodeResult(
                name=getattr(node, "name", "?"),
                unique_id=getattr(node, "unique_id", "?"),
                resource_type=str(getattr(node, "resource_type", "?")),
                status=str(getattr(r.status, "value", r.status)),
                seconds=float(getattr(r, "execution_time", 0.0) or 0.0),
                message=r.message,
                failures=r.failures,
            )
        )
    return out


def summary(result: RefreshResult) -> Mapping[str, Any]:
    """A JSON-friendly view of a refresh (for logs and API responses)."""
    return {
        "success": result.success,
        "seconds": round(result.seconds, 3),
        "error": result.error,
        "nodes": [
            {"name": n.name, "status": n.status, "seconds": round(n.seconds, 3),
             "message": n.message, "failures": n.failures}
            for n in result.nodes
        ],
    }
