"""Settings pointed at a temporary local dir (hence an empty embedded warehouse of its own),
defined once for the warehouse, serving API and fuzz fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.settings import get_settings


@contextmanager
def own_local_dir(root: Path, env: Mapping[str, str] | None = None
                  ) -> Iterator[pytest.MonkeyPatch]:
    """PLATFORM_LOCAL_DIR = `root/local`, the variables `env` set, CLICKHOUSE_URL unset (the
    embedded warehouse); yields the MonkeyPatch for more. On exit: every warehouse client
    closed, the environment put back, and the DBT_* variables (run_dbt exports them into
    os.environ) as they were once `env` was set."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PLATFORM_LOCAL_DIR", str(root / "local"))
    for key, value in (env or {}).items():
        mp.setenv(key, value)
    mp.delenv("CLICKHOUSE_URL", raising=False)
    saved = {k: v for k, v in os.environ.items() if k.startswith("DBT_")}
    get_settings.cache_clear()
    try:
        yield mp
    finally:
        from warehouse.client import close_clients

        close_clients()
        mp.undo()
        for key in [k for k in os.environ if k.startswith("DBT_")]:
            if key not in saved:
                del os.environ[key]
        os.environ.update(saved)
        get_settings.cache_clear()
