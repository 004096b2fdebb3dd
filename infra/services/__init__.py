"""The locally managed services, in start order (each depends only on those before it)."""

from __future__ import annotations

from infra.services.base import Service


def all_services() -> list[Service]:
    from infra.services.apps import (
        CoreApi,
        DagsterUI,
        LakeLanding,
        MediaWorker,
        NotificationsWorker,
        OutboxRelay,
        PosIngest,
        ServingApi,
    )
    from infra.services.dashboard import DashboardAssets
    from infra.services.kafka import Kafka
    from infra.services.mailpit import Mailpit
    from infra.services.minio import MinIO
    from infra.services.postgres import Postgres
    from infra.services.prometheus import Prometheus
    from infra.services.registry import SchemaRegistry
    from infra.services.spark import SparkJars

    return [Postgres(), MinIO(), Kafka(), SchemaRegistry(), SparkJars(), Mailpit(), CoreApi(),
            OutboxRelay(), PosIngest(), MediaWorker(), NotificationsWorker(), LakeLanding(),
            DashboardAssets(), ServingApi(), DagsterUI(),
            Prometheus()]  # last: scrapes every app above


def tools() -> list[Service]:
    """Installed on demand only (`python -m infra install chromium`), never started: the
    browser of the dashboard's tests and benchmark."""
    from infra.services.dashboard import Chromium

    return [Chromium()]


def infrastructure() -> list[Service]:
    """Only the data services, without the platform's own apps."""
    return [s for s in all_services() if not getattr(s, "is_app", False)]


def by_name(name: str) -> Service:
    for svc in [*all_services(), *tools()]:
        if svc.name == name:
            return svc
    raise KeyError(name)
