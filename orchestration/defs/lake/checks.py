"""Checks every bronze table gets: records that could not be decoded are kept, and counted.

The data-quality suites (great-expectations) live in orchestration/defs/quality.
"""


import dagster as dg

from orchestration.defs.lake.assets import bronze_key
from pipelines.lake_catalog import LAKE_TABLES, LakeTable


def _decode_errors_check(table: LakeTable) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=bronze_key(table), name="decode_errors",
                    description="Undecodable records are kept with a reason, and counted")
    def check() -> dg.AssetCheckResult:
        from warehouse.lake import decode_errors

        counts = decode_errors(table)
        bad = sum(counts.values())
        return dg.AssetCheckResult(
            passed=bad == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"rejected_records": bad, **{f"reason_{k}": v for k, v in counts.items()}})

    return check


DECODE_CHECKS = [_decode_errors_check(t) for t in LAKE_TABLES]
