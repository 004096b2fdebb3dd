import dagster as dg

from orchestration.defs.retention import jobs, schedules

defs = dg.Definitions(jobs=[jobs.lake_retention], schedules=[schedules.nightly_retention])
