"""Seed 000 §22.2: the aggregates refresh every 5 minutes; a daily job does the rest.

Both are switched on by default: `make up` starts Dagster with its daemon, and they run.
"""

from __future__ import annotations

import dagster as dg

lake_refresh_job = dg.define_asset_job(
    "lake_refresh",
    selection=dg.AssetSelection.groups("lake", "warehouse", "rankings", "billing",
                                       "notices"),
    description="Land every catalog topic (or note the continuous landing), build the dbt "
    "models the API reads, write Explore's ranking back to the core, bill the ad "
    "campaigns' days from the lake and tell shops their daily report and sharp changes.",
)

every_five_minutes = dg.ScheduleDefinition(
    job=lake_refresh_job,
    cron_schedule="*/5 * * * *",
    execution_timezone="Asia/Bishkek",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
