"""Retention of the lake (seed 000 §22.4, §13): raw events 13 months, logs 90 days, daily
marts forever.

For every catalog table whose retention class has a limit, the rows older than the limit
are deleted from its bronze and silver layers, by partition column (bronze `kafka_date`,
the UTC day of the Kafka record's timestamp; silver `_event_date`, the UTC day of the
event): whole partitions go, and the DELETE is a metadata-only commit. Current-state
tables are never touched (one row per entity, however old its last change).

A DELETE only unlinks files from the table's log; VACUUM then removes them from the object
store. It runs in LITE mode (only files the log says were removed: files a concurrent
landing batch is writing but has not committed yet are not even looked at) and, by
default, with RETAIN 0 HOURS, so what this run deleted is gone when it ends. Delta refuses
a retention under 7 days unless `spark.databricks.delta.retentionDurationCheck.enabled` is
false: it is switched off for the VACUUM and restored. The price: a reader still holding a
snapshot from before the DELETE (a query started at that moment that reads the expired
partitions) may fail; pass a longer `retain_hours` to keep removed files for that long.
When LITE cannot run (the log was cleaned up since the last VACUUM), a FULL VACUUM with
the safe default of 7 days runs instead, and the next run catches up.

    python -m pipelines.retention [--now 2026-01-31T00:00:00+06:00] [--dry-run]
                                  [--retain-hours 0] [--table core_orders ...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from infra.settings import get_settings
from pipelines.lake_catalog import LAKE_TABLES, RETENTION_DAYS, LakeTable
from pipelines.quality.rules import PARTITION_COLUMN, Layer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SAFE_RETAIN_HOURS = 168  # Delta's default; the FULL fallback never goes below it


@dataclass
class TableRetention:
    table: str
    layer: str  # bronze | silver
    path: str  # relative to the lake root
    retention: str
    status: str  # deleted | nothing_expired | would_delete | not_landed | no_partition_column
    cutoff: str | None = None  # rows with the partition column before this date go
    rows_deleted: int = 0  # with --dry-run: rows that would be deleted
    files_removed: int = 0  # files of the expired partitions VACUUM removed (dry run: to remove)
    vacuum: str = ""  # lite | full | "" (not run)
    seconds: float = 0.0


def cutoff_date(table: LakeTable, now: datetime) -> date | None:
    """The first day kept: partitions dated before it are expired. None: kept forever."""
    days = RETENTION_DAYS[table.retention]
    if days is None:
        return None
    return now.astimezone(UTC).date() - timedelta(days=days)


def _uri(relative: str) -> str:
    return f"{get_settings().lake_root}/{relative}"


def _partition_files(relative: str, column: str, days: Sequence[date]) -> set[str]:
    """Keys of the data files in these partitions of a table, in the object store (listing
    only the expired partitions: a whole table can hold millions of streaming files)."""
    from infra.services.minio import s3_client

    s3 = s3_client()
    paginator = s3.get_paginator("list_objects_v2")
    keys: set[str] = set()
    for day in days:
        prefix = f"{relative.strip('/')}/{column}={day.isoformat()}/"
        for page in paginator.paginate(Bucket=get_settings().lake_bucket, Prefix=prefix):
            keys |= {o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")}
    return keys


@contextmanager
def _session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    old: dict[str, str | None] = {k: spark.conf.get(k, None) for k in values}
    for k, v in values.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for key, previous in old.items():
            if previous is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, previous)


def _vacuum(spark: SparkSession, path: str, retain_hours: int,
            log: Callable[[str], None]) -> str:
    check = "true" if retain_hours >= SAFE_RETAIN_HOURS else "false"
    with _session_conf(spark, {"spark.databricks.delta.retentionDurationCheck.enabled": check}):
        try:
            spark.sql(f"VACUUM delta.`{path}` RETAIN {retain_hours} HOURS LITE").collect()
            return "lite"
        except Exception as exc:
            if not any(m in str(exc) for m in ("VACUUM LITE", "VACUUM_LITE")):
                raise
            log(f"    VACUUM LITE refused ({str(exc).splitlines()[0][:160]}); "
                f"FULL with {SAFE_RETAIN_HOURS} h instead")
    spark.sql(f"VACUUM delta.`{path}` RETAIN {max(retain_hours, SAFE_RETAIN_HOURS)} HOURS"
              ).collect()
    return "full"


def expire_layer(spark: SparkSession, table: LakeTable, layer: Layer, *, now: datetime,
                 dry_run: bool = False, retain_hours: int = 0,
                 log: Callable[[str], None] = print) -> TableRetention:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    started = time.monotonic()
    rel = table.bronze_path if layer is Layer.BRONZE else table.silver_path
    out = TableRetention(table.name, str(layer), rel, str(table.retention), "nothing_expired")
    cutoff = cutoff_date(table, now)
    assert cutoff is not None
    out.cutoff = cutoff.isoformat()
    path = _uri(rel)
    part = PARTITION_COLUMN[layer]
    if not DeltaTable.isDeltaTable(spark, path):
        out.status = "not_landed"
    elif part not in spark.read.format("delta").load(path).columns:
        out.status = "no_partition_column"
        log(f"  {layer}/{table.name}: no {part} column, left alone")
    else:
        expired = spark.read.format("delta").load(path).where(F.col(part) < F.lit(cutoff))
        days = sorted(r[0] for r in expired.select(part).distinct().collect())
        if dry_run:
            out.rows_deleted = expired.count() if days else 0
            out.files_removed = (expired.select(F.input_file_name()).distinct().count()
                                 if days else 0)
            out.status = "would_delete" if out.rows_deleted else "nothing_expired"
        else:
            before = _partition_files(rel, part, days)
            if days:
                deleted = spark.sql(
                    f"DELETE FROM delta.`{path}` WHERE `{part}` < DATE'{cutoff.isoformat()}'"
                ).collect()
                out.rows_deleted = int(deleted[0][0]) if deleted else 0
                out.status = "deleted"
            # Always: also removes what an interrupted earlier run deleted but did not vacuum.
            out.vacuum = _vacuum(spark, path, retain_hours, log)
            out.files_removed = len(before - _partition_files(rel, part, days))
    out.seconds = time.monotonic() - started
    if out.status not in ("not_landed", "no_partition_column"):
        verb = "would delete" if dry_run else "deleted"
        log(f"  {layer}/{table.name}: {verb} {out.rows_deleted} row(s) with {part} < {cutoff}, "
            f"{'files' if dry_run else 'vacuumed'} {out.files_removed} file(s) "
            f"({out.seconds:.1f}s)")
    return out


def apply_retention(spark: SparkSession | None = None, *, now: datetime | None = None,
                    dry_run: bool = False, retain_hours: int = 0,
                    tables: Sequence[LakeTable] = LAKE_TABLES,
                    log: Callable[[str], None] = print) -> list[TableRetention]:
    """Expire bronze and silver rows of every table past its retention class; one result
    per table and layer (tables kept forever, and not-landed ones, say so)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    own = spark is None
    if spark is None:
        from pipelines.spark_session import build_session

        spark = build_session("lake_retention")
    log(f"retention at {now.isoformat()}{' (dry run)' if dry_run else ''}")
    results: list[TableRetention] = []
    try:
        for table in tables:
            if RETENTION_DAYS[table.retention] is None:
                for layer in Layer:
                    results.append(TableRetention(
                        table.name, str(layer),
                        table.bronze_path if layer is Layer.BRONZE else table.silver_path,
                        str(table.retention), "kept_forever"))
                continue
            for layer in Layer:
                results.append(expire_layer(spark, table, layer, now=now, dry_run=dry_run,
                                            retain_hours=retain_hours, log=log))
    finally:
        if own:
            spark.stop()
    deleted = sum(r.rows_deleted for r in results)
    files = sum(r.files_removed for r in results)
    landed = sum(r.status not in ("not_landed", "kept_forever") for r in results)
    log(f"retention done: {landed} table layer(s) checked, "
        f"{'would delete' if dry_run else 'deleted'} {deleted} row(s), "
        f"{'in' if dry_run else 'removed'} {files} file(s)")
    return results


def _parse_now(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m pipelines.retention", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--now", type=_parse_now, default=None,
                   help="ISO time to expire against (default: now; no zone = UTC)")
    p.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    p.add_argument("--retain-hours", type=int, default=0,
                   help="keep files removed by DELETE this long before VACUUM removes them")
    p.add_argument("--table", action="append", default=[], help="only this table (repeat)")
    args = p.parse_args(argv)
    tables = [t for t in LAKE_TABLES if not args.table or t.name in args.table]
    unknown = set(args.table) - {t.name for t in tables}
    if unknown:
        p.error(f"not in the lake catalog: {', '.join(sorted(unknown))}")
    results = apply_retention(now=args.now, dry_run=args.dry_run,
                              retain_hours=args.retain_hours, tables=tables)
    for r in results:
        if r.status not in ("not_landed", "kept_forever"):
            print("  " + ", ".join(f"{k}={v}" for k, v in asdict(r).items()
                                  if k not in ("seconds",)))


if __name__ == "__main__":
    main()
