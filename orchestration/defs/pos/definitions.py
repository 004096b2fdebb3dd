import dagster as dg

from orchestration.defs.pos import assets, checks, schedules

defs = dg.Definitions(
    assets=[assets.bronze_pos_sales],
    asset_checks=[checks.bronze_pos_sales_decode_errors],
    jobs=[schedules.sales_refresh_job],
    schedules=[schedules.every_five_minutes],
)
