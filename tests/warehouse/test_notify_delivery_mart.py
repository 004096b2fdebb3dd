"""The notifications' delivery log in the lake: notify_deliveries (the outbox's
notification.* events) → stg_notify__delivery_current → notification_delivery_daily,
checked on a small known world. Needs MinIO and the cached Spark jars (`stack`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.settings import get_settings
from tests.warehouse.lake_fixtures import TestLake
from warehouse.client import get_client
from warehouse.refresh import run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

UTC = dt.UTC
# 10:00 in Bishkek (UTC+6)
T = dt.datetime(2031, 3, 4, 4, 0, tzinfo=UTC)
DAY = dt.date(2031, 3, 4)


def _state(nid: uuid.UUID, channel: str, status: str, *, at: dt.datetime,
           sent_after: float | None = None, delivered_after: float | None = None
           ) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()), "event_type": f"notification.{status}",
        "occurred_at": at, "notification_id": str(nid), "source_event_id": str(uuid.uuid4()),
        "notification_type": "order_created", "category": "order", "channel": channel,
        "priority": "normal", "consent": "transactional", "shop_id": None, "status": status,
        "provider": "smtp" if channel == "email" else f"{channel}_simulator", "attempts": 1,
        "last_error": None, "created_at": T,
        "sent_at": T + dt.timedelta(seconds=sent_after) if sent_after is not None else None,
        "delivered_at": T + dt.timedelta(seconds=delivered_after)
        if delivered_after is not None else None,
    }


def world() -> list[dict[str, Any]]:
    p1, p2, p3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    e1, e2, e3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    later = T + dt.timedelta(seconds=10)
    return [
        # push: p1 sent then delivered (two states: the later one counts), p2 delivered,
        # p3 suppressed (rate limit)
        _state(p1, "push", "sent", at=T + dt.timedelta(seconds=1), sent_after=1),
        _state(p1, "push", "delivered", at=later, sent_after=1, delivered_after=3),
        _state(p2, "push", "sent", at=T + dt.timedelta(seconds=1), sent_after=0.5),
        _state(p2, "push", "delivered", at=later, sent_after=0.5, delivered_after=1),
        _state(p3, "push", "suppressed", at=T),
        # e-mail: two sent (SMTP reports nothing further), one failed
        _state(e1, "email", "sent", at=later, sent_after=2),
        _state(e2, "email", "sent", at=later, sent_after=4),
        _state(e3, "email", "failed", at=later),
    ]


@pytest.fixture(scope="module")
def built(spark: Any, lake_prefix: str, warehouse_env: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PREFIX", lake_prefix)
        get_settings.cache_clear()
        lake = TestLake(spark)
        lake.create_all_empty()
        lake.write("notify_deliveries", world(), ingested_at=T + dt.timedelta(minutes=5))
        result = run_dbt(["build", "--select", "+notification_delivery_daily"])
        bad = [(n.name, n.status, n.message) for n in result.failed]
        assert result.success, (result.error, bad)
        yield
    get_settings.cache_clear()


def test_delivery_rate_and_latency_per_channel(built: None) -> None:
    db = get_settings().warehouse_database
    rows = get_client().query(
        "SELECT channel, notifications, sent, delivered, failed, suppressed, delivery_rate,"
        " send_latency_p95_ms, delivery_latency_p95_ms"
        f" FROM `{db}`.notification_delivery_daily WHERE date = '{DAY}' ORDER BY channel"
    ).result_rows
    assert [tuple(r) for r in rows] == [
        ("email", 3, 2, 0, 1, 0, 0.0, 4000, None),
        ("push", 3, 2, 2, 0, 1, 1.0, 1000, 3000),
    ]
