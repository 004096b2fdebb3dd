"""Retention runs every night at 03:30 Bishkek time (quiet hours), switched on by default."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.retention.jobs import lake_retention

nightly_retention = dg.ScheduleDefinition(
    name="lake_retention_nightly",
    job=lake_retention,
    cron_schedule="30 3 * * *",
    execution_timezone="Asia/Bishkek",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
