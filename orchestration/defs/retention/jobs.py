"""Retention of the lake (seed 000 §22.4, §13): an asset-free job that deletes bronze and
silver rows past their table's retention class and vacuums the removed files
(pipelines.retention), with an AssetObservation on each table it changed."""

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import dagster as dg


class RetentionConfig(dg.Config):
    dry_run: bool = False
    retain_hours: int = 0  # keep files removed by DELETE this long before VACUUM
    now: str | None = None  # ISO time to expire against (default: now; no zone = UTC)


@dg.op(description="Delete expired bronze/silver partitions of every catalog table and "
                   "the rows of erased accounts, then VACUUM them away.")
def expire_lake(context: dg.OpExecutionContext,
                config: RetentionConfig) -> Iterator[dg.AssetObservation | dg.Output[Any]]:
    from pipelines.landing import LandingBusy, exclusive_landing
    from pipelines.retention import apply_retention

    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        # Delta on S3 has one writer per table: retention writes only while it holds the
        # lake, like a landing run.
        with exclusive_landing():
            from pipelines.erasure import apply_erasures
            from pipelines.spark_session import build_session

            spark = build_session("lake_retention")
            try:
                results = apply_retention(spark, now=now, dry_run=config.dry_run,
                                          retain_hours=config.retain_hours,
                                          log=context.log.info)
                # an erased account's rows, again after any replay from Kafka
                erased = apply_erasures(spark, dry_run=config.dry_run, log=context.log.info)
            finally:
                spark.stop()
    except LandingBusy:
        context.log.info("the continuous landing holds the lake; it applies retention itself "
                         "once a day, between micro-batches")
        yield dg.Output([], metadata={"now": now.isoformat(),
                                      "applied_by": "lake-landing service"})
        return
    for r in results:
        if r.rows_deleted or r.files_removed:
            yield dg.AssetObservation(
                asset_key=dg.AssetKey([r.layer, r.table]),
                metadata={"retention": r.retention, "cutoff": r.cutoff or "",
                          "rows_deleted": r.rows_deleted, "files_removed": r.files_removed,
                          "dry_run": config.dry_run})
    touched = [asdict(r) for r in results if r.status not in ("not_landed", "kept_forever")]
    yield dg.Output(
        touched,
        metadata={"now": now.isoformat(), "dry_run": config.dry_run,
                  "rows_deleted": sum(r.rows_deleted for r in results),
                  "files_removed": sum(r.files_removed for r in results),
                  "erased_rows": sum(e.silver_rows + e.bronze_rows + e.current_rows
                                     for e in erased),
                  "tables": dg.MetadataValue.json(touched)})


@dg.job(description="Lake retention: raw events 13 months, logs 90 days (by partition "
                    "date), daily marts forever; current-state tables are kept.")
def lake_retention() -> None:
    expire_lake()
