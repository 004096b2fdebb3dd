"""Checks on the bronze POS table: readable by ClickHouse, and decode failures surfaced."""


import dagster as dg

from orchestration.defs.pos.assets import BRONZE_POS_SALES
from orchestration.defs.warehouse.resources import WarehouseRefresher


@dg.asset_check(asset=BRONZE_POS_SALES, description="Undecodable records are kept, and counted")
def bronze_pos_sales_decode_errors(warehouse: WarehouseRefresher) -> dg.AssetCheckResult:
    counts = warehouse.lake_decode_errors()
    bad = sum(counts.values())
    return dg.AssetCheckResult(
        passed=bad == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejected_records": bad, **{f"reason_{k}": v for k, v in counts.items()}},
    )
