"""Internal endpoints: health, and the warehouse refresh that Dagster asks this process for.

In embedded mode this process is the only one allowed to open the chdb warehouse, so dbt
runs here, in a worker thread, while requests keep being served (tables are swapped
atomically, so a read never sees a half-built table).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends
from fastapi.concurrency import run_in_threadpool
from prometheus_client import Counter, Histogram

from infra.settings import get_settings
from platform_common.errors import ErrorCode, NotFoundError, ServiceUnavailableError
from platform_common.http import ErrorResponse
from serving_api.deps import Warehouse, internal_caller
from serving_api.schemas import Health, RefreshNode, RefreshResponse

router = APIRouter(tags=["internal"])
# Every internal endpoint answers 401 without the right X-Internal-Token.
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "UNAUTHORIZED: missing or wrong token"}}


@router.get("/health", response_model=Health)
async def health(db: Warehouse) -> Health:
    await run_in_threadpool(db.query, "SELECT 1")
    mode = "embedded chdb" if get_settings().embedded_warehouse else "clickhouse server"
    return Health(status="ok", warehouse=mode)


# Marts whose raw rows other processes read through this one, which owns the embedded
# warehouse: the reconciliation (orchestration/reconcile.py), Dagster's `explore_scores`
# asset, which writes the ranking back to the core, and its `ad_billing` asset, which
# settles campaigns' days from ad_event_daily.
READABLE_MARTS = ("shop_metric_daily", "post_metric_daily", "explore_post_scores",
                  "ad_event_daily", "shop_insights_daily")
# The readable marts with a `date` column (the `since` filter).
DATED_MARTS = frozenset({"shop_metric_daily", "post_metric_daily", "ad_event_daily",
                         "shop_insights_daily"})


@router.get(
    "/internal/marts/{name}",
    dependencies=[Depends(internal_caller)],
    summary="Raw rows of a mart (for reconciliation), optionally of one shop",
    responses={**_UNAUTHORIZED, 404: {"description": "NOT_FOUND: not a readable mart"},
               503: {"description": "REPORT_NOT_READY: the mart has not been built"}},
)
async def mart_rows(name: str, db: Warehouse, shop_id: UUID | None = None,
                    since: dt.date | None = None) -> dict[str, Any]:
    """`since`: only the days from this date on (marts with a `date`)."""
    if name not in READABLE_MARTS:
        raise NotFoundError(ErrorCode.NOT_FOUND, f"no readable mart named {name!r}")
    database = get_settings().warehouse_database
    filters, params = [], {}
    if shop_id:
        filters.append("shop_id = {shop:String}")
        params["shop"] = str(shop_id)
    if since and name in DATED_MARTS:
        filters.append("date >= {since:Date}")
        params["since"] = since.isoformat()
    where = f" WHERE {' AND '.join(filters)}" if filters else ""
    result = await _query_built(db, f"SELECT * FROM `{database}`.`{name}`{where}",
                                params or None, name)
    rows = [{col: _plain(v) for col, v in zip(result.column_names, row, strict=True)}
            for row in result.result_rows]
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return {"mart": name, "rows": rows}


# Billable ad events per campaign, day, pricing and price, straight from the classified
# events (not from ad_event_daily): `make reconcile` prices them itself and compares with
# the mart and with the ledger.
BILLABLE_AD_EVENTS = """
    SELECT campaign_id, business_date AS date, pricing, event_type, price,
           count() AS events
    FROM `{db}`.`int_ad_events_classified`
    WHERE billable AND business_date >= {since:Date}
    GROUP BY campaign_id, date, pricing, event_type, price
"""


@router.get(
    "/internal/ads/billable-events",
    dependencies=[Depends(internal_caller)],
    summary="Billable ad events per campaign, day, pricing, event type and price",
    responses={**_UNAUTHORIZED,
               503: {"description": "REPORT_NOT_READY: the ads models have not been built"}},
)
async def billable_ad_events(db: Warehouse, since: dt.date) -> dict[str, Any]:
    # not str.format: it would read the query parameter `{since:Date}` as a format spec
    # (ValueError, a 500 on every call; found by the fuzzer)
    sql = BILLABLE_AD_EVENTS.replace("{db}", get_settings().warehouse_database)
    result = await _query_built(db, sql, {"since": since}, "the ads models")
    return {"rows": [{col: _plain(v) for col, v in zip(result.column_names, row, strict=True)}
                     for row in result.result_rows]}


async def _query_built(db: Any, sql: str, parameters: dict[str, Any] | None, what: str
                       ) -> Any:
    """Run a query over models; 503 REPORT_NOT_READY while they have not been built."""
    try:
        return await run_in_threadpool(db.query, sql, parameters=parameters)
    except Exception as exc:
        if "UNKNOWN_TABLE" in str(exc) or "does not exist" in str(exc) or \
                "doesn't exist" in str(exc):
            raise ServiceUnavailableError(
                ErrorCode.REPORT_NOT_READY, f"{what} has not been built yet") from exc
        raise


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | UUID):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    return value


# dbt runs Dagster asks for (seed 000 §19: the refreshes' run times and failures).
DBT_SECONDS = Histogram("dbt_run_seconds", "Duration of dbt runs in the serving process.",
                        ["command"], buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600))
DBT_RUNS = Counter("dbt_runs", "dbt runs by command and result (success, failed, error).",
                   ["command", "result"])


def _command(args: list[str] | None) -> str:
    """The dbt sub-command only (build, run, test...): selectors would be unbounded."""
    first = (args or ["build"])[0]
    return first if first in {"build", "run", "test", "seed", "snapshot", "compile"} \
        else "other"


@router.post(
    "/internal/refresh",
    response_model=RefreshResponse,
    dependencies=[Depends(internal_caller)],
    summary="Run dbt (build by default) inside the process that owns the warehouse",
)
async def refresh(
    args: Annotated[list[str] | None, Body(embed=True, description="dbt arguments")] = None,
) -> RefreshResponse:
    from warehouse.refresh import run_dbt

    started = time.monotonic()
    try:
        result = await run_in_threadpool(run_dbt, args or ["build"])
    except Exception:
        DBT_RUNS.labels(_command(args), "error").inc()
        raise
    DBT_SECONDS.labels(_command(args)).observe(time.monotonic() - started)
    DBT_RUNS.labels(_command(args), "success" if result.success else "failed").inc()
    return RefreshResponse(
        success=result.success,
        seconds=result.seconds,
        nodes=[
            RefreshNode(name=n.name, status=n.status, seconds=n.seconds, message=n.message)
            for n in result.nodes
        ],
    )
