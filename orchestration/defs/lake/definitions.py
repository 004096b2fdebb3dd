import dagster as dg

from orchestration.defs.lake import assets, checks, schedules

defs = dg.Definitions(
    assets=[assets.lake_landing],
    asset_checks=checks.DECODE_CHECKS,
    jobs=[schedules.lake_refresh_job],
    schedules=[schedules.every_five_minutes],
)
