"""A small lake for warehouse tests: every table of the lake catalog, under the test's
LAKE_PREFIX, with the landing's own schemas (pipelines.landing), so dbt reads exactly the
contract the landing writes.

Tables without test rows are created empty by writing their first Delta commit directly
(protocol, metadata with the schema, no files), which is what Spark writes for an empty
table but takes milliseconds instead of a Spark job per table. Tables with rows are written
by Spark: silver appended (partitioned by `_event_date`, the UTC date of the event time),
and for entity tables the current-state table rewritten with each entity's latest event.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from infra.settings import get_settings
from pipelines.lake_catalog import LAKE_TABLES, LakeTable, by_name

UTC = dt.UTC


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


def _layers(spark: Any, table: LakeTable) -> list[tuple[str, Any, list[str]]]:
    """(relative path, Spark schema, partition columns) of each layer, as the landing
    creates them."""
    from pyspark.sql.types import (
        BinaryType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    from pipelines.landing import Resolution, bronze_rows, decoded_frame, silver_rows

    kafka = StructType([
        StructField("key", BinaryType()), StructField("value", BinaryType()),
        StructField("topic", StringType()), StructField("partition", IntegerType()),
        StructField("offset", LongType()), StructField("timestamp", TimestampType()),
        StructField("timestampType", IntegerType()),
    ])
    decoded = decoded_frame(spark.createDataFrame([], kafka), table,
                            Resolution({}, frozenset()))
    silver = silver_rows(decoded, table).schema
    out = [(table.bronze_path, bronze_rows(decoded, table).schema, ["kafka_date"]),
           (table.silver_path, silver, ["_event_date"])]
    if table.current_path:
        out.append((table.current_path, silver, []))
    return out


def _to_spark_value(value: Any, data_type: Any) -> Any:
    from pyspark.sql.types import ArrayType, StructType

    if value is None:
        return None
    if isinstance(data_type, ArrayType):
        return [_to_spark_value(v, data_type.elementType) for v in value]
    if isinstance(data_type, StructType):
        return tuple(_to_spark_value(value.get(f.name), f.dataType) for f in data_type.fields)
    return value


class TestLake:
    """Writes silver (and current-state) rows of catalog tables for a test."""

    __test__ = False  # not a pytest class

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        # A few rows per table: Delta's log replay need not fan out into 50 tasks.
        spark.conf.set("spark.sql.shuffle.partitions", "2")
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.offsets: dict[str, int] = {}
        self.schemas: dict[str, Any] = {}

    def uri(self, relative: str) -> str:
        return f"{get_settings().lake_root}/{relative}"

    # --- empty tables ----------------------------------------------------------------
    def create_all_empty(self) -> None:
        """Every catalog table and layer, empty (a version-0 Delta commit, no files)."""
        from infra.services.minio import s3_client

        s3 = s3_client()
        bucket = get_settings().lake_bucket
        now = int(time.time() * 1000)
        for table in LAKE_TABLES:
            for rel, schema, parts in _layers(self.spark, table):
                self.schemas[rel] = schema
                commit = [
                    {"commitInfo": {"timestamp": now, "operation": "CREATE TABLE",
                                    "operationParameters": {}, "isBlindAppend": True}},
                    {"metaData": {
                        "id": str(uuid.uuid4()),
                        "format": {"provider": "parquet", "options": {}},
                        "schemaString": schema.json(),
                        "partitionColumns": parts,
                        "configuration": {"delta.enableDeletionVectors": "false"},
                        "createdTime": now}},
                    {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
                ]
                s3.put_object(
                    Bucket=bucket, Key=f"{rel}/_delta_log/{0:020d}.json",
                    Body="\n".join(json.dumps(c) for c in commit).encode())

    # --- rows --------------------------------------------------------------------------
    def write(self, name: str, events: Iterable[Mapping[str, Any]], *,
              ingested_at: dt.datetime) -> None:
        """Append events (Avro field -> value; nested records as dicts) to the silver
        table `name`, with the landing's metadata columns, and refresh its current state."""
        table = by_name(name)
        schema = self.schemas[table.silver_path]
        rows = []
        for event in events:
            offset = self.offsets.get(name, 0)
            self.offsets[name] = offset + 1
            at = event[table.event_time]
            row = {
                "_topic": table.topic.name, "_partition": 0, "_offset": offset,
                "_kafka_timestamp": at, "_schema_id": 1, "_ingested_at": ingested_at,
                "_event_date": at.astimezone(UTC).date(),
            } | dict(event)
            unknown = set(row) - {f.name for f in schema.fields}
            assert not unknown, f"{name}: no such column(s) {sorted(unknown)}"
            rows.append(row)
        self.rows.setdefault(name, []).extend(rows)
        frame = self._frame(schema, rows)
        (frame.write.format("delta").mode("append").partitionBy("_event_date")
         .save(self.uri(table.silver_path)))
        if table.current_path and table.entity_key:
            latest: dict[Any, dict[str, Any]] = {}
            for row in self.rows[name]:
                key = row[table.entity_key]
                mine = (row[table.event_time], row["_partition"], row["_offset"])
                held = latest.get(key)
                if held is None or mine > (held[table.event_time], held["_partition"],
                                           held["_offset"]):
                    latest[key] = row
            (self._frame(schema, list(latest.values())).write.format("delta")
             .mode("overwrite").save(self.uri(table.current_path)))

    def _frame(self, schema: Any, rows: list[dict[str, Any]]) -> Any:
        data = [tuple(_to_spark_value(r.get(f.name), f.dataType) for f in schema.fields)
                for r in rows]
        return self.spark.createDataFrame(data, schema)
