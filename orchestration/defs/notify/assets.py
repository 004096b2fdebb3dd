"""Notifications domain: what the lake tells shops (orchestration.defs.notify.shop_notices)."""

import time

import dagster as dg

from orchestration.defs.notify.shop_notices import run


@dg.asset(
    key="shop_notices",
    deps=[dg.AssetKey("shop_insights_daily"), dg.AssetKey("shop_metric_daily")],
    group_name="notices",
    description="notify.analytics: each shop's daily report of the last finished local day "
                "(once the lake has landed past its end) and the first day of a sharp "
                "change of revenue or visits, given once per shop, day and metric.",
)
def shop_notices(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    started = time.monotonic()
    result = run()
    context.log.info(f"shop notices: {result.summary()}")
    return dg.MaterializeResult(metadata={
        "day": str(result.day),
        "ready": result.ready,
        "through": result.through.isoformat() if result.through else "",
        "outcomes": dict(result.outcomes),
        "seconds": round(time.monotonic() - started, 2),
    })
