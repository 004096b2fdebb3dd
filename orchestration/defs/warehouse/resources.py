"""How Dagster reaches the warehouse.

Embedded chdb allows one process per warehouse directory, and the serving API is that
process; so in embedded mode Dagster asks it (POST /internal/refresh) to run dbt. With a
ClickHouse server (CLICKHOUSE_URL) dbt runs right here, in the Dagster run process.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import httpx

from infra.settings import get_settings


class WarehouseRefresher(dg.ConfigurableResource):  # type: ignore[type-arg]
    timeout_seconds: float = 900.0

    def refresh(self, args: list[str]) -> dict[str, Any]:
        s = get_settings()
        if s.embedded_warehouse:
            r = httpx.post(
                f"{s.serving_api_url}/internal/refresh",
                json={"args": args},
                headers={"X-Internal-Token": s.internal_token},
                timeout=self.timeout_seconds,
            )
            if r.status_code != 200:
                raise dg.Failure(f"refresh request failed: HTTP {r.status_code} {r.text[:500]}")
            return r.json()
        from warehouse.refresh import run_dbt

        result = run_dbt(args)
        return {
            "success": result.success,
            "seconds": result.seconds,
            "nodes": [n.__dict__ for n in result.nodes],
        }
