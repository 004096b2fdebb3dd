"""Spec §22.2: aggregates refresh every 5 minutes; landing and the models run together."""

from __future__ import annotations

import dagster as dg

sales_refresh_job = dg.define_asset_job(
    "sales_refresh",
    selection=dg.AssetSelection.groups("pos") | dg.AssetSelection.groups("warehouse"),
    description="Land POS sales from Kafka, then build the dbt models the API reads.",
)

every_five_minutes = dg.ScheduleDefinition(
    job=sales_refresh_job,
    cron_schedule="*/5 * * * *",
    execution_timezone="Asia/Bishkek",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
