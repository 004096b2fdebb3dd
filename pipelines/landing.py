"""Land every topic of the lake catalog from Kafka into Delta: bronze, silver, current state.

One Spark application (one JVM for every topic: a 2-core machine cannot afford one per
topic) runs one Structured Streaming query per catalog table, each with its own checkpoint
(so adding a table touches no other table's progress), and for each micro-batch:

1. bronze  append every Kafka record as it was sent (raw bytes, topic/partition/offset,
           schema id, event id and time when readable, `decode_error` otherwise). The write
           carries Delta's idempotent-writer pair (`txnAppId`, `txnVersion` = batch id), so
           a batch replayed after a crash is skipped by the tables that already have it;
2. silver  decode each record with its OWN writer schema (looked up by id in the registry,
           per batch, so a version registered after the job started is read too) resolved
           onto the current reader schema (Avro schema resolution), one typed column per
           field; MERGE on the table's dedup key, insert-only: a redelivered event or a
           replayed batch changes nothing;
3. current for entity tables, MERGE the latest event per entity: a row moves only forward
           (a later event time, or the same time at a later offset).

Each query's checkpoint holds its topic's Kafka offsets; Delta holds the data. Kill the job at any
point and restart it: every event ends up exactly once in bronze, silver and current.
Deleting the checkpoint means replaying the lake from Kafka: delete the lake with it.

    python -m pipelines.landing                   # continuously (trigger every N seconds)
    python -m pipelines.landing --available-now   # land what Kafka holds now, then exit
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Histogram
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro
from pyspark.sql.streaming import StreamingQuery

from infra.settings import get_settings
from pipelines import confluent_avro
from pipelines.lake_catalog import LAKE_TABLES, LakeTable
from pipelines.spark_session import build_session
from platform_common.metrics import serve_metrics
from schemas.topics import schema_str

# decode_error codes (bronze). Rows with a code never reach silver; nothing is dropped.
NOT_CONFLUENT_FRAMED = confluent_avro.NOT_CONFLUENT_FRAMED
UNKNOWN_SCHEMA_ID = confluent_avro.UNKNOWN_SCHEMA_ID
INCOMPATIBLE_SCHEMA = "INCOMPATIBLE_SCHEMA"
AVRO_DECODE_FAILED = confluent_avro.AVRO_DECODE_FAILED
DECODE_ERRORS = (NOT_CONFLUENT_FRAMED, UNKNOWN_SCHEMA_ID, INCOMPATIBLE_SCHEMA, AVRO_DECODE_FAILED)

META_COLUMNS = ("_topic", "_partition", "_offset", "_kafka_timestamp", "_schema_id",
                "_ingested_at", "_event_date")
APP_ID = "lake-landing"
RETENTION_EVERY_SECONDS = 24 * 3600.0


def uri(relative: str) -> str:
    return f"{get_settings().lake_root}/{relative}"


# --- writer schemas, looked up per batch -------------------------------------------------

class WriterSchemas:
    """Schema id -> writer schema text, from the registry, remembered for the job's life.

    A registry outage raises (the batch fails and is retried after a restart) rather than
    labelling good records UNKNOWN_SCHEMA_ID.
    """

    def __init__(self, lookup: Callable[[int], str | None] | None = None) -> None:
        self._lookup = lookup or _registry_lookup
        self._known: dict[int, str | None] = {}

    def get(self, schema_id: int) -> str | None:
        if schema_id not in self._known:
            self._known[schema_id] = self._lookup(schema_id)
        return self._known[schema_id]


def _registry_lookup(schema_id: int) -> str | None:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from schemas.registry import registry_client

    try:
        return registry_client().get_schema(schema_id).schema_str
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            return None
        raise


@dataclass(frozen=True)
class Resolution:
    """How one topic's records of this batch are read: schema ids that resolve onto the
    reader schema, and ids that are known but incompatible."""

    readable: dict[int, str]
    incompatible: frozenset[int]


def resolve(table: LakeTable, schema_ids: Iterable[int], schemas: WriterSchemas) -> Resolution:
    reader = schema_str(table.topic)
    readable: dict[int, str] = {}
    incompatible: set[int] = set()
    for sid in schema_ids:
        writer = schemas.get(sid)
        if writer is None:
            continue
        if confluent_avro.can_read(reader, writer):
            readable[sid] = writer
        else:
            incompatible.add(sid)
    return Resolution(readable, frozenset(incompatible))


# --- one table's share of a batch --------------------------------------------------------

def decoded_frame(raw: DataFrame, table: LakeTable, res: Resolution) -> DataFrame:
    """Kafka rows of one topic -> rows with the raw record, a decoded struct `record`
    (current reader schema) and `decode_error`."""
    value = F.col("value")
    sid = confluent_avro.schema_id(value)
    body = F.expr("substring(value, 6)")
    reader = schema_str(table.topic)
    record: Column = F.lit(None)
    for i, (sch_id, writer) in enumerate(sorted(res.readable.items())):
        attempt = from_avro(body, writer, {"mode": "PERMISSIVE", "avroSchema": reader})
        record = F.when(sid == sch_id, attempt) if i == 0 else record.when(sid == sch_id,
                                                                           attempt)
    if not res.readable:
        # Keep the column typed as the reader schema even when nothing is readable.
        record = F.when(F.lit(False), from_avro(body, reader, {"mode": "PERMISSIVE"}))
    error = (
        F.when(~confluent_avro.framed(value), F.lit(NOT_CONFLUENT_FRAMED))
        .when(sid.isin(list(res.incompatible)), F.lit(INCOMPATIBLE_SCHEMA))
        .when(~sid.isin(list(res.readable) or [-1]), F.lit(UNKNOWN_SCHEMA_ID))
        .when(record.isNull(), F.lit(AVRO_DECODE_FAILED))
    )
    return raw.select(
        "topic", "partition", "offset",
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").cast("string").alias("kafka_key"),
        sid.alias("schema_id"),
        "value",
        record.alias("record"),
        error.alias("decode_error"),
    )


def bronze_rows(decoded: DataFrame, table: LakeTable) -> DataFrame:
    ok = F.col("decode_error").isNull()
    return decoded.select(
        "topic", "partition", "offset", "kafka_timestamp", "kafka_key", "schema_id", "value",
        F.when(ok, F.col(f"record.{table.dedup_key}").cast("string")).alias("event_id"),
        F.when(ok, F.col(f"record.{table.event_time}")).alias("event_time"),
        "decode_error",
        F.current_timestamp().alias("ingested_at"),
        F.to_date("kafka_timestamp").alias("kafka_date"),
    )


def silver_rows(decoded: DataFrame, table: LakeTable) -> DataFrame:
    """Decoded records, one row per dedup key (the first delivery), typed columns."""
    rows = decoded.where(F.col("decode_error").isNull()).select(
        "record.*",
        F.col("topic").alias("_topic"),
        F.col("partition").alias("_partition"),
        F.col("offset").alias("_offset"),
        F.col("kafka_timestamp").alias("_kafka_timestamp"),
        F.col("schema_id").alias("_schema_id"),
        F.current_timestamp().alias("_ingested_at"),
    ).withColumn("_event_date", F.to_date(F.col(table.event_time)))
    first = Window.partitionBy(table.dedup_key).orderBy("_partition", "_offset")
    return (rows.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n"))


def latest_per_entity(silver: DataFrame, table: LakeTable) -> DataFrame:
    assert table.entity_key
    last = Window.partitionBy(table.entity_key).orderBy(
        F.col(table.event_time).desc(), F.col("_offset").desc())
    return silver.withColumn("_n", F.row_number().over(last)).where("_n = 1").drop("_n")


# --- writing -------------------------------------------------------------------------------

def _exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, path))


def append_bronze(rows: DataFrame, table: LakeTable, batch_id: int) -> None:
    (rows.write.format("delta").mode("append")
     .option("txnAppId", APP_ID).option("txnVersion", batch_id)
     .option("mergeSchema", "true")
     .partitionBy("kafka_date")
     .save(uri(table.bronze_path)))


def merge_silver(spark: SparkSession, rows: DataFrame, table: LakeTable,
                 dates: Sequence[Any]) -> None:
    from delta.tables import DeltaTable

    path = uri(table.silver_path)
    if not _exists(spark, path):
        rows.write.format("delta").mode("append").partitionBy("_event_date").save(path)
        return
    key = table.dedup_key
    # The event date pins the partitions the MERGE reads: a redelivery has the same date.
    pruning = " OR ".join(f"t._event_date = DATE'{d}'" for d in dates) or "false"
    (DeltaTable.forPath(spark, path).alias("t")
     .merge(rows.alias("s"), f"({pruning}) AND t.`{key}` = s.`{key}`")
     .whenNotMatchedInsertAll()
     .execute())


def merge_current(spark: SparkSession, rows: DataFrame, table: LakeTable) -> None:
    from delta.tables import DeltaTable

    assert table.current_path and table.entity_key
    path = uri(table.current_path)
    latest = latest_per_entity(rows, table)
    if not _exists(spark, path):
        latest.write.format("delta").mode("append").save(path)
        return
    key, at = table.entity_key, table.event_time
    newer = (f"s.`{at}` > t.`{at}` OR (s.`{at}` = t.`{at}` AND "
             f"(s._partition > t._partition OR "
             f"(s._partition = t._partition AND s._offset > t._offset)))")
    (DeltaTable.forPath(spark, path).alias("t")
     .merge(latest.alias("s"), f"t.`{key}` = s.`{key}`")
     .whenMatchedUpdateAll(condition=newer)
     .whenNotMatchedInsertAll()
     .execute())


@dataclass
class TableCounts:
    records: int = 0
    rejected: int = 0


@dataclass
class LandingStats:
    batches: int = 0
    records: int = 0
    per_table: dict[str, TableCounts] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, table: str, records: int, rejected: int) -> None:
        with self.lock:
            counts = self.per_table.setdefault(table, TableCounts())
            counts.records += records
            counts.rejected += rejected
            self.records += records


# Prometheus (seed 000 §19), served by the continuous landing on LAKE_LANDING_METRICS_PORT.
BATCH_SECONDS = Histogram("lake_landing_batch_seconds",
                          "Duration of a non-empty micro-batch of one lake table.", ["table"],
                          buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600))
LANDED_RECORDS = Counter("lake_landing_records",
                         "Kafka records landed into bronze (every one), by table.", ["table"])
SILVER_ROWS = Counter("lake_landing_silver_rows",
                      "Decoded, deduplicated rows merged into silver, by table (the rest of "
                      "the records were redeliveries or unreadable).", ["table"])


class BatchWriter:
    """The foreachBatch body of one table's query: one micro-batch of its topic."""

    def __init__(self, table: LakeTable, *, stats: LandingStats, gate: threading.Semaphore,
                 schemas: WriterSchemas, log: Callable[[str], None] = print,
                 retention_every: float | None = None) -> None:
        self.table = table
        self.stats = stats
        self.gate = gate
        self.schemas = schemas
        self.log = log
        # Seconds between retention runs (continuous mode); the first one after a period.
        self.retention_every = retention_every
        self._retention_at = time.monotonic()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        # Every table has its own query (and thread); the gate keeps a 2-core machine
        # from running all of them at once.
        with self.gate:
            self._retention_if_due(batch.sparkSession)
            self._land(batch, batch_id)

    def _land(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        # One Spark partition per topic partition, most of them empty in a micro-batch:
        # every write below would schedule a task for each.
        batch = batch.coalesce(2).persist()
        try:
            present = batch.groupBy(confluent_avro.schema_id(F.col("value")).alias(
                "sid")).count().collect()
            records = sum(int(r["count"]) for r in present)
            if not records:
                return
            self.log(f"  {self.table.name} batch {batch_id} started: {records} record(s)")
            sids = {int(r["sid"]) for r in present if r["sid"] is not None}
            readable = self._land_table(batch.sparkSession, batch, batch_id, sids)
            self.stats.add(self.table.name, records, records - readable)
            LANDED_RECORDS.labels(self.table.name).inc(records)
            SILVER_ROWS.labels(self.table.name).inc(readable)
            BATCH_SECONDS.labels(self.table.name).observe(time.monotonic() - started)
            self.log(f"  {self.table.name} batch {batch_id}: {records} record(s), "
                     f"{records - readable} undecodable, in {time.monotonic() - started:.1f}s")
        finally:
            batch.unpersist()

    def _retention_if_due(self, spark: SparkSession) -> None:
        """Delta on S3 wants one writing driver per table: while the continuous landing
        runs, it is that driver, so it applies retention itself, between batches."""
        if self.retention_every is None:
            return
        if time.monotonic() - self._retention_at < self.retention_every:
            return
        from pipelines.retention import apply_retention

        self.log(f"  {self.table.name}: retention")
        apply_retention(spark, tables=[self.table], log=self.log)
        if self.table.pseudonym_columns:
            from pipelines.erasure import apply_erasures

            apply_erasures(spark, tables=[self.table], log=self.log)
        self._retention_at = time.monotonic()

    def _land_table(self, spark: SparkSession, batch: DataFrame, batch_id: int,
                    sids: set[int]) -> int:
        table = self.table
        decoded = decoded_frame(batch, table, resolve(table, sids, self.schemas))
        append_bronze(bronze_rows(decoded, table), table, batch_id)
        silver = silver_rows(decoded, table).persist()
        try:
            per_date = silver.groupBy("_event_date").count().collect()
            readable = sum(int(r["count"]) for r in per_date)
            if readable:
                merge_silver(spark, silver, table, [r["_event_date"] for r in per_date])
                if table.entity_key:
                    merge_current(spark, silver, table)
            return readable
        finally:
            silver.unpersist()


def ensure_tables(spark: SparkSession, tables: Sequence[LakeTable]) -> list[str]:
    """Create every catalog table that does not exist yet, empty, with its schema: a topic
    that has seen no event still has tables that the models and checks can read. A
    metadata-only Delta commit per table (no Spark job)."""
    from delta.tables import DeltaTable
    from pyspark.sql.types import (
        BinaryType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    kafka_schema = StructType([
        StructField("key", BinaryType()), StructField("value", BinaryType()),
        StructField("topic", StringType()), StructField("partition", IntegerType()),
        StructField("offset", LongType()), StructField("timestamp", TimestampType()),
        StructField("timestampType", IntegerType()),
    ])
    empty = spark.createDataFrame([], kafka_schema)
    targets: list[tuple[str, StructType, list[str]]] = []
    for table in tables:
        decoded = decoded_frame(empty, table, Resolution({}, frozenset()))
        silver = silver_rows(decoded, table)
        targets += [(table.bronze_path, bronze_rows(decoded, table).schema, ["kafka_date"]),
                    (table.silver_path, silver.schema, ["_event_date"])]
        if table.current_path:
            targets.append((table.current_path, silver.schema, []))

    def create(target: tuple[str, StructType, list[str]]) -> str | None:
        rel, schema, parts = target
        if _exists(spark, uri(rel)):
            return None
        (DeltaTable.createIfNotExists(spark).location(uri(rel)).addColumns(schema)
         .partitionedBy(*parts).execute())
        return rel

    with ThreadPoolExecutor(max_workers=4) as pool:
        return [rel for rel in pool.map(create, targets) if rel]


# --- the query ------------------------------------------------------------------------------

def kafka_stream(spark: SparkSession, table: LakeTable,
                 max_offsets_per_trigger: int) -> DataFrame:
    s = get_settings()
    reader = spark.readStream.format("kafka")
    if s.landing_starting_timestamp_ms is not None:  # only read when no checkpoint exists
        reader = (reader.option("startingTimestamp", str(s.landing_starting_timestamp_ms))
                  .option("startingOffsetsByTimestampStrategy", "latest"))
    return (
        reader
        .option("kafka.bootstrap.servers", s.kafka_bootstrap_servers)
        .option("subscribe", table.topic.name)
        .option("startingOffsets", "earliest")
        # The core's relay writes in Kafka transactions: never land an aborted batch.
        .option("kafka.isolation.level", "read_committed")
        # Retention may delete records the job has not read; land what remains and say so.
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", max_offsets_per_trigger)
        .load()
    )


@dataclass
class Landing:
    """The running landing: one streaming query per catalog table, in one JVM. A query
    per table keeps each topic's offsets in its own checkpoint, so adding a table to the
    catalog adds a query and touches no other table's progress."""

    queries: list[StreamingQuery]
    stats: LandingStats

    @property
    def active(self) -> bool:
        return all(q.isActive for q in self.queries)

    def failure(self) -> str | None:
        for q in self.queries:
            if q.exception() is not None:
                return f"{q.name}: {q.exception()}"
        return None

    def await_all(self) -> None:
        for q in self.queries:
            q.awaitTermination()

    def stop(self) -> None:
        for q in self.queries:
            if q.isActive:
                q.stop()


def start(spark: SparkSession, *, available_now: bool,
          tables: Sequence[LakeTable] = LAKE_TABLES, trigger_seconds: int | None = None,
          max_offsets_per_trigger: int = 200_000, log: Callable[[str], None] = print,
          retention_every: float | None = None) -> Landing:
    # every catalog table, even when landing a few: the models read them all
    ensure_tables(spark, [*LAKE_TABLES, *(t for t in tables if t not in LAKE_TABLES)])
    s = get_settings()
    stats, schemas = LandingStats(), WriterSchemas()
    gate = threading.Semaphore(s.landing_table_parallelism)
    seconds = trigger_seconds or s.landing_trigger_seconds
    queries = []
    for table in tables:
        writer = BatchWriter(table, stats=stats, gate=gate, schemas=schemas, log=log,
                             retention_every=retention_every)
        stream = (
            kafka_stream(spark, table, max_offsets_per_trigger).writeStream
            .foreachBatch(writer)
            .option("checkpointLocation", uri(table.checkpoint_path))
            .queryName(f"land_{table.name}")
        )
        stream = (stream.trigger(availableNow=True) if available_now
                  else stream.trigger(processingTime=f"{seconds} seconds"))
        queries.append(stream.start())
    return Landing(queries, stats)


@dataclass(frozen=True)
class LandingResult:
    batches: int
    records: int
    seconds: float
    per_table: dict[str, dict[str, int]]


class LandingBusy(RuntimeError):
    """Another landing (the continuous service, or a catch-up run) holds this lake."""


@contextmanager
def exclusive_landing() -> Iterator[None]:
    """One landing at a time per lake: two queries on one checkpoint would fight over it.

    A PostgreSQL advisory lock (the platform's database is always there), held for the
    landing's lifetime and released by the server if the process dies.
    """
    import psycopg

    s = get_settings()
    key = f"lake-landing:{s.lake_root}/{s.lake_prefix}"
    conn = psycopg.connect(s.postgres_dsn, autocommit=True)
    try:
        row = conn.execute("select pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        if not row or not row[0]:
            raise LandingBusy(f"another landing is running on {s.lake_root}/{s.lake_prefix}")
        yield
    finally:
        conn.close()


def land_available(spark: SparkSession | None = None,
                   tables: Sequence[LakeTable] = LAKE_TABLES,
                   log: Callable[[str], None] = print,
                   max_offsets_per_trigger: int = 200_000) -> LandingResult:
    """Land everything Kafka holds now, then stop (what Dagster runs). Raises LandingBusy
    while the continuous landing runs."""
    with exclusive_landing():
        return _land_available(spark, tables, log, max_offsets_per_trigger)


def _land_available(spark: SparkSession | None, tables: Sequence[LakeTable],
                    log: Callable[[str], None], max_offsets: int) -> LandingResult:
    own = spark is None
    spark = spark or build_session("lake_landing")
    began = time.monotonic()
    try:
        landing = start(spark, available_now=True, tables=tables,
                        max_offsets_per_trigger=max_offsets, log=log)
        try:
            landing.await_all()
        except Exception:
            landing.stop()
            raise
        failure = landing.failure()
        if failure is not None:
            raise RuntimeError(f"landing failed: {failure}")
        st = landing.stats
        return LandingResult(
            batches=st.batches, records=st.records, seconds=time.monotonic() - began,
            per_table={k: {"records": v.records, "rejected": v.rejected}
                       for k, v in sorted(st.per_table.items())})
    finally:
        if own:
            spark.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--available-now", action="store_true",
                        help="land what Kafka holds now, then exit")
    parser.add_argument("--tables", help="comma-separated catalog names (default: all)")
    parser.add_argument("--trigger-seconds", type=int, help="continuous: seconds per batch")
    parser.add_argument("--max-offsets-per-trigger", type=int, default=200_000,
                        help="records per micro-batch and topic, at most")
    args = parser.parse_args(argv)
    tables = LAKE_TABLES
    if args.tables:
        wanted = set(args.tables.split(","))
        tables = tuple(t for t in LAKE_TABLES if t.name in wanted)
    if args.available_now:
        result = land_available(tables=tables,
                                max_offsets_per_trigger=args.max_offsets_per_trigger)
        print(json.dumps({"batches": result.batches, "records": result.records,
                          "seconds": round(result.seconds, 1),
                          "per_table": result.per_table}))
        return
    with exclusive_landing():
        serve_metrics(get_settings().lake_landing_metrics_port)
        spark = build_session("lake_landing")
        landing = start(spark, available_now=False, tables=tables,
                        trigger_seconds=args.trigger_seconds,
                        max_offsets_per_trigger=args.max_offsets_per_trigger,
                        log=lambda m: print(m, flush=True),
                        retention_every=RETENTION_EVERY_SECONDS)
        print(f"landing {len(tables)} topic(s) continuously into "
              f"{get_settings().lake_root}; Ctrl-C stops", flush=True)
        try:
            while landing.active:
                time.sleep(5)
                write_status(landing)
        except KeyboardInterrupt:
            pass
        failure = landing.failure()
        landing.stop()
        if failure is not None:
            print(f"landing failed: {failure}", file=sys.stderr)
            raise SystemExit(1)


# --- has the continuous landing caught up? -----------------------------------------------

def end_offsets(tables: Sequence[LakeTable] = LAKE_TABLES) -> dict[str, dict[str, int]]:
    """Kafka's high watermarks now, per topic and partition (what "caught up" means)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "group.id": "landing-watermarks", "enable.auto.commit": False})
    try:
        out: dict[str, dict[str, int]] = {}
        for t in {t.topic.name for t in tables}:
            meta = consumer.list_topics(t, timeout=10).topics[t]
            out[t] = {str(p): consumer.get_watermark_offsets(TopicPartition(t, p),
                                                             timeout=10)[1]
                      for p in meta.partitions}
        return out
    finally:
        consumer.close()


def committed_offsets(tables: Sequence[LakeTable] = LAKE_TABLES) -> dict[str, dict[str, int]]:
    """The Kafka offsets up to which each table's query has committed to Delta, read from
    its checkpoint (`offsets/<last committed batch>`); a table with no batch yet is absent."""
    from infra.services.minio import s3_client

    s = get_settings()
    s3 = s3_client()
    out: dict[str, dict[str, int]] = {}
    for table in tables:
        root = table.checkpoint_path
        listed = s3.list_objects_v2(Bucket=s.lake_bucket, Prefix=f"{root}/commits/")
        batches = [int(o["Key"].rsplit("/", 1)[1]) for o in listed.get("Contents", [])
                   if o["Key"].rsplit("/", 1)[1].isdigit()]
        if not batches:
            continue
        body = s3.get_object(Bucket=s.lake_bucket, Key=f"{root}/offsets/{max(batches)}")
        for line in body["Body"].read().decode().splitlines()[2:]:  # "v1", metadata, sources
            if line.startswith("{"):
                for topic, parts in json.loads(line).items():
                    out[topic] = {str(p): int(o) for p, o in parts.items()}
    return out


def wait_caught_up(timeout: float = 600.0, poll: float = 2.0,
                   tables: Sequence[LakeTable] = LAKE_TABLES) -> float:
    """Block until the running landing has committed everything Kafka held when this was
    called; returns the seconds waited. Raises TimeoutError."""
    target = end_offsets(tables)
    began = time.monotonic()
    while True:
        done = committed_offsets(tables)
        behind = {(t, p) for t, parts in target.items() for p, end in parts.items()
                  if end > 0 and done.get(t, {}).get(p, 0) < end}
        if not behind:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"landing still behind on {sorted(behind)[:5]}")
        time.sleep(poll)


def status_file() -> Path:
    return get_settings().run_dir / "lake-landing.status.json"


def write_status(landing: Landing) -> None:
    """What the health check reads: the queries' last progress."""
    progress = [dict(q.lastProgress or {}) for q in landing.queries]
    stamps = [p["timestamp"] for p in progress if p.get("timestamp")]
    path = status_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({
        "checked_at": time.time(), "active": landing.active, "queries": len(progress),
        "batch_at": max(stamps) if stamps else None,
        "input_rows": sum(int(p.get("numInputRows") or 0) for p in progress),
    }))
    tmp.replace(path)


if __name__ == "__main__":
    main()
