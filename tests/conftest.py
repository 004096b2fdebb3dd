"""Shared fixtures: the real local stack, started (idempotently) once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def stack() -> None:
    """PostgreSQL, MinIO, Kafka, the schema registry and Spark's jars, up and healthy."""
    from infra.services import infrastructure

    for svc in infrastructure():
        svc.install()
        svc.start()

