"""Retention on real Delta tables in MinIO: rows past their class's limit go from bronze and
silver (and their files from the object store), the others stay, current state is never
touched, and a second run finds nothing to do."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from infra.settings import get_settings
from pipelines.lake_catalog import RETENTION_DAYS, Retention, by_name
from pipelines.retention import TableRetention, apply_retention, cutoff_date

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

NOW = datetime(2026, 6, 15, 1, 30, tzinfo=UTC)
AGES = {"14 months": 426, "12 months": 365, "100 days": 100, "80 days": 80}
DATES = {label: NOW.date() - timedelta(days=days) for label, days in AGES.items()}
RAW = by_name("core_orders")  # raw events: 13 months; has a current-state table
LOGS = by_name("pos_heartbeats")  # logs: 90 days
ROWS_PER_DATE = 2


def test_cutoffs_follow_the_retention_classes() -> None:
    assert RAW.retention is Retention.RAW_EVENTS and LOGS.retention is Retention.LOGS
    assert cutoff_date(RAW, NOW) == date(2025, 5, 15)  # 396 days
    assert cutoff_date(LOGS, NOW) == date(2026, 3, 17)  # 90 days
    assert RETENTION_DAYS[Retention.FOREVER] is None


def _uri(relative: str) -> str:
    return f"{get_settings().lake_root}/{relative}"


def _write_tables(spark: Any) -> None:
    from pyspark.sql import types as T

    bronze = T.StructType([
        T.StructField("topic", T.StringType()), T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()), T.StructField("value", T.BinaryType()),
        T.StructField("event_id", T.StringType()), T.StructField("kafka_date", T.DateType())])
    silver = T.StructType([
        T.StructField("event_id", T.StringType()), T.StructField("entity", T.StringType()),
        T.StructField("occurred_at", T.TimestampType()),
        T.StructField("_event_date", T.DateType())])
    for table in (RAW, LOGS):
        rows_b, rows_s = [], []
        for i, (label, day) in enumerate(sorted(DATES.items())):
            for n in range(ROWS_PER_DATE):
                event = f"{label}-{n}"
                at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
                rows_b.append((table.topic.name, n, i * 10 + n, b"\x00raw", event, day))
                rows_s.append((event, f"entity-{n}", at, day))
        (spark.createDataFrame(rows_b, bronze).write.format("delta")
         .partitionBy("kafka_date").save(_uri(table.bronze_path)))
        (spark.createDataFrame(rows_s, silver).write.format("delta")
         .partitionBy("_event_date").save(_uri(table.silver_path)))
    assert RAW.current_path
    current = [(f"entity-{n}", f"14 months-{n}",
                datetime.combine(DATES["14 months"], datetime.min.time(), UTC))
               for n in range(ROWS_PER_DATE)]
    spark.createDataFrame(current, "entity string, event_id string, occurred_at timestamp") \
        .write.format("delta").save(_uri(RAW.current_path))


def _dates(spark: Any, relative: str, column: str) -> dict[date, int]:
    rows = spark.read.format("delta").load(_uri(relative)).groupBy(column).count().collect()
    return {r[0]: r[1] for r in rows}


def _files_of(relative: str, column: str, day: date) -> list[str]:
    from infra.services.minio import s3_client

    prefix = f"{relative}/{column}={day.isoformat()}/"
    listed = s3_client().list_objects_v2(Bucket=get_settings().lake_bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".parquet")]


def _by(results: list[TableRetention]) -> dict[tuple[str, str], TableRetention]:
    return {(r.table, r.layer): r for r in results}


def test_retention_deletes_exactly_the_expired_rows(spark: Any) -> None:
    _write_tables(spark)
    expired = {RAW.name: ["14 months"], LOGS.name: ["14 months", "12 months", "100 days"]}

    # A dry run counts and changes nothing.
    dry = _by(apply_retention(spark, now=NOW, dry_run=True))
    assert dry[(RAW.name, "bronze")].status == "would_delete"
    assert dry[(RAW.name, "bronze")].rows_deleted == ROWS_PER_DATE
    assert dry[(LOGS.name, "silver")].rows_deleted == 3 * ROWS_PER_DATE
    assert sum(_dates(spark, RAW.bronze_path, "kafka_date").values()) == 4 * ROWS_PER_DATE

    results = _by(apply_retention(spark, now=NOW))
    for table in (RAW, LOGS):
        for layer, rel, column in (("bronze", table.bronze_path, "kafka_date"),
                                   ("silver", table.silver_path, "_event_date")):
            r = results[(table.name, layer)]
            gone = expired[table.name]
            assert r.status == "deleted", r
            assert r.rows_deleted == len(gone) * ROWS_PER_DATE, r
            assert r.files_removed >= len(gone), r  # at least one file per expired date
            assert r.vacuum == "lite"
            kept = {d for label, d in DATES.items() if label not in gone}
            assert _dates(spark, rel, column) == dict.fromkeys(kept, ROWS_PER_DATE)
            for label in gone:  # the files themselves are gone from the object store
                assert _files_of(rel, column, DATES[label]) == []
            for d in kept:
                assert _files_of(rel, column, d)

    # Current state is never touched, however old; tables not landed are skipped.
    assert RAW.current_path
    assert spark.read.format("delta").load(_uri(RAW.current_path)).count() == ROWS_PER_DATE
    assert results[("core_payments", "silver")].status == "not_landed"
    assert {r.layer for r in results.values()} == {"bronze", "silver"}

    again = apply_retention(spark, now=NOW)
    assert sum(r.rows_deleted for r in again) == 0
    assert sum(r.files_removed for r in again) == 0
    assert {r.status for r in again} <= {"nothing_expired", "not_landed", "kept_forever"}
