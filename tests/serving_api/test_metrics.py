"""The serving API's Prometheus metrics (issue 11 §6): `/metrics` with latency and errors
by route template, and the dbt runs Dagster asks it for (run seconds, failures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from infra.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]


@pytest.fixture(scope="module")
def serving(core_dsn: str, serving_env: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from serving_api.main import create_app

    with TestClient(create_app(core_dsn)) as client:
        yield client


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_by_route_template(serving: Any) -> None:
    assert serving.get("/health").status_code == 200
    assert serving.get("/analytics/shops/123/sales").status_code in {401, 403, 404, 422}
    body = serving.get("/metrics").text
    assert 'http_requests_total{app="serving-api",method="GET",route="/health",status="2xx"}' \
        in body
    assert "/analytics/shops/123" not in body
    assert "http_request_duration_seconds_bucket" in body
    assert "/metrics" not in serving.get("/openapi.json").json()["paths"]


def test_dbt_runs_are_timed_and_failures_counted(serving: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import warehouse.refresh
    from warehouse.refresh import RefreshResult

    outcomes = iter([True, False])

    def fake_dbt(args: list[str]) -> RefreshResult:  # dbt itself is tested elsewhere
        return RefreshResult(success=next(outcomes), seconds=0.01, nodes=[])

    monkeypatch.setattr(warehouse.refresh, "run_dbt", fake_dbt)
    runs = _value("dbt_run_seconds_count", command="build")
    failed = _value("dbt_runs_total", command="build", result="failed")
    headers = {"X-Internal-Token": get_settings().internal_token}
    for _ in range(2):
        assert serving.post("/internal/refresh", headers=headers, json={}).status_code == 200
    assert _value("dbt_run_seconds_count", command="build") == runs + 2
    assert _value("dbt_runs_total", command="build", result="failed") == failed + 1
    # Only the sub-command is a label: selectors would be unbounded.
    from serving_api.routers.internal import _command

    assert _command(["run", "--select", "shop_metric_daily"]) == "run"
    assert _command(["--select", "x"]) == "other"
