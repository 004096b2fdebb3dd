"""Internal endpoints: health, and the warehouse refresh that Dagster asks this process for.

In embedded mode this process is the only one allowed to open the chdb warehouse, so dbt
runs here, in a worker thread, while requests keep being served (tables are swapped
atomically, so a read never sees a half-built table).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.concurrency import run_in_threadpool

from infra.settings import get_settings
from serving_api.deps import Warehouse, internal_caller
from serving_api.schemas import Health, RefreshNode, RefreshResponse

router = APIRouter(tags=["internal"])


@router.get("/health", response_model=Health)
async def health(db: Warehouse) -> Health:
    await run_in_threadpool(db.query, "SELECT 1")
    mode = "embedded chdb" if get_settings().embedded_warehouse else "clickhouse server"
    return Health(status="ok", warehouse=mode)


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

    result = await run_in_threadpool(run_dbt, args or ["build"])
    return RefreshResponse(
        success=result.success,
        seconds=result.seconds,
        nodes=[
            RefreshNode(name=n.name, status=n.status, seconds=n.seconds, message=n.message)
            for n in result.nodes
        ],
    )
