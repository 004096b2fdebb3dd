"""Warehouse test fixtures: a throw-away chdb warehouse, and (integration) a Spark session.

The chdb engine binds a process to ONE warehouse directory while any handle is open: each
test module gets its own temporary warehouse and closes every client at its end (dbt closes
its own connections when an invocation ends), which frees the engine for the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.settings import get_settings
from tests.own_local_dir import own_local_dir


@pytest.fixture(scope="module")
def warehouse_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point settings at a temporary local dir (hence warehouse path) and dbt output dirs.

    The Spark jar cache lives under the local dir too: a Spark session must be built before
    this fixture switches it (see `spark`), or read the real cache by absolute path.
    """
    root = tmp_path_factory.mktemp("warehouse")
    with own_local_dir(root, {"DBT_TARGET_PATH": str(root / "dbt-target"),
                              "DBT_LOG_PATH": str(root / "dbt-logs")}):
        yield root


# The real local dir (Spark's jar cache lives there), read before any test patches the env.
REAL_LOCAL_DIR = str(get_settings().local_dir)


@pytest.fixture(scope="module")
def lake_prefix() -> Iterator[str]:
    """A fresh `test/<uuid>` prefix in the lake bucket, deleted afterwards."""
    import uuid

    bucket = get_settings().lake_bucket
    from infra.services.minio import s3_client

    s3 = s3_client()
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        pytest.skip(f"object store not reachable ({exc}); start the local stack")
    prefix = f"test/{uuid.uuid4().hex}"
    yield prefix
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


@pytest.fixture(scope="module")
def spark(lake_prefix: str, spark_session):  # type: ignore[no-untyped-def]
    """The session-wide Spark session (tests/conftest.py), after this module's prefix."""
    return spark_session
