"""Ads domain: the campaigns' days billed from the lake (orchestration.defs.ads.billing)."""

import time

import dagster as dg

from orchestration.defs.ads.billing import bill, read_owed


@dg.asset(
    key="ad_billing",
    deps=[dg.AssetKey("ad_event_daily")],
    group_name="billing",
    description="Each campaign's recent days settled to ad_event_daily's spend (after the "
                "invalid-traffic rules): charges or credits in the core's ledger, once per "
                "campaign, day and landed watermark.",
)
def ad_billing(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    started = time.monotonic()
    owed, through = read_owed()
    run = bill(owed, through)
    context.log.info(f"ad billing: {run.summary()}")
    for refused in run.refused[:20]:
        context.log.warning(f"not billed: {refused}")
    return dg.MaterializeResult(metadata={
        "through": run.through.isoformat() if run.through else "",
        "campaign_days": run.days,
        "charged_kgs": str(run.charged),
        "credited_kgs": str(run.credited),
        "outcomes": dict(run.outcomes),
        "seconds": round(time.monotonic() - started, 2),
    })
