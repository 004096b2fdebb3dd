"""Fixtures for the lake jobs' tests: a lake of their own under a fresh LAKE_PREFIX, and
ONE Spark session per test module (a second JVM does not fit on the machine)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.settings import get_settings


@pytest.fixture(scope="module")
def lake_prefix(stack: None) -> Iterator[str]:
    """Point the lake catalog at `test/<uuid>/` of the lake bucket; delete it afterwards."""
    from infra.services.minio import s3_client

    prefix = f"test/{uuid.uuid4().hex}"
    mp = pytest.MonkeyPatch()
    mp.setenv("LAKE_PREFIX", prefix)
    get_settings.cache_clear()
    try:
        yield prefix
    finally:
        s3 = s3_client()
        bucket = get_settings().lake_bucket
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                 Prefix=prefix + "/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        mp.undo()
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def spark(lake_prefix: str, spark_session: Any) -> Any:
    """The session-wide Spark session (tests/conftest.py), after this module's prefix."""
    return spark_session
