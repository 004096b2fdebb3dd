import dagster as dg

from orchestration.defs.quality import checks

# The checked assets (bronze/<table>, silver/<table>) are defined by the lake domain.
defs = dg.Definitions(asset_checks=checks.QUALITY_CHECKS)
