"""The lake's assets, generated from the lake catalog: for every table, bronze (Kafka
records as sent), silver (deduplicated, typed) and, for entities, the current state.

One Spark run lands all of them (pipelines.landing), so they are one multi-asset. When the
continuous landing service holds the lake, a run does not start a second query on the
same checkpoint: it records that the service is landing, with the tables' Delta versions.
"""


from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg

from pipelines.lake_catalog import LAKE_TABLES, LakeTable

# Seed 000 §22.2: aggregates every 5 minutes; the lake must be fresher than that.
LAKE_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=15),
                                                warn_window=timedelta(minutes=10))


def bronze_key(table: LakeTable) -> dg.AssetKey:
    return dg.AssetKey(["bronze", table.name])


def silver_key(table: LakeTable) -> dg.AssetKey:
    return dg.AssetKey(["silver", table.name])


def current_key(table: LakeTable) -> dg.AssetKey:
    return dg.AssetKey(["silver", f"{table.name}_current"])


def _specs(table: LakeTable) -> list[dg.AssetSpec]:
    meta = {"topic": table.topic.name, "dedup_key": table.dedup_key,
            "event_time": table.event_time, "retention": str(table.retention),
            "pii": ", ".join(table.pii) or "none"}
    specs = [
        dg.AssetSpec(bronze_key(table), group_name="lake", kinds={"kafka", "spark", "delta"},
                     description=f"Every Kafka record of `{table.topic.name}` as sent "
                     "(raw bytes, offsets, schema id, decode_error).",
                     metadata={**meta, "path": table.bronze_path},
                     freshness_policy=LAKE_FRESHNESS),
        dg.AssetSpec(silver_key(table), group_name="lake", kinds={"spark", "delta"},
                     deps=[bronze_key(table)],
                     description=f"{table.description} One row per `{table.dedup_key}`, "
                     "typed columns (Delta MERGE).",
                     metadata={**meta, "path": table.silver_path},
                     freshness_policy=LAKE_FRESHNESS),
    ]
    if table.current_path:
        specs.append(dg.AssetSpec(
            current_key(table), group_name="lake", kinds={"spark", "delta"},
            deps=[silver_key(table)],
            description=f"Latest state of each `{table.entity_key}` (Delta MERGE).",
            metadata={**meta, "path": table.current_path}))
    return specs


LAKE_SPECS = [spec for table in LAKE_TABLES for spec in _specs(table)]


@dg.multi_asset(specs=LAKE_SPECS, name="lake_landing", can_subset=False)
def lake_landing(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    from pipelines.landing import LandingBusy, land_available, wait_caught_up

    try:
        result = land_available(log=context.log.info)
    except LandingBusy:
        context.log.info("the continuous landing service holds the lake: waiting until it "
                         "has landed everything Kafka holds now")
        waited = wait_caught_up()
        for spec in LAKE_SPECS:
            yield dg.MaterializeResult(asset_key=spec.key, metadata={
                "landed_by": "lake-landing service", "waited_seconds": round(waited, 1)})
        return
    context.log.info(f"landed {result.records} record(s) in {result.batches} batch(es)")
    for table in LAKE_TABLES:
        counts = result.per_table.get(table.name, {"records": 0, "rejected": 0})
        meta: dict[str, Any] = {"records_landed": counts["records"], "rejected": counts["rejected"],
                "seconds": round(result.seconds, 1), "landed_by": "catch-up run"}
        for spec in _specs(table):
            yield dg.MaterializeResult(asset_key=spec.key, metadata=meta)
