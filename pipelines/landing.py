"""Land every topic of the lake catalog from Kafka into Delta: bronze, silver, current state.

One Spark Structured Streaming query subscribes to every catalog topic (one JVM for all of
them: a 2-core machine cannot afford one per topic) and, for each micro-batch, per topic:

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

The query's checkpoint holds the Kafka offsets; Delta holds the data. Kill the job at any
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

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro
from pyspark.sql.streaming import StreamingQuery

from infra.settings import get_settings
from pipelines import confluent_avro
from pipelines.lake_catalog import LAKE_TABLES, LakeTable, landing_checkpoint
from pipelines.spark_session import build_session
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


class BatchWriter:
    """The foreachBatch body: one micro-batch of every subscribed topic."""

    def __init__(self, tables: Sequence[LakeTable], *, parallelism: int | None = None,
                 schemas: WriterSchemas | None = None, log: Callable[[str], None] = print,
                 retention_every: float | None = None) -> None:
        self.tables = {t.topic.name: t for t in tables}
        self.schemas = schemas or WriterSchemas()
        # Tables are landed side by side: each Delta commit waits mostly on the object
        # store and the driver, not on the cores.
        self.parallelism = parallelism or get_settings().landing_table_parallelism
        self.stats = LandingStats()
        self.log = log
        # Seconds between retention runs (continuous mode); the first one after a period.
        self.retention_every = retention_every
        self._retention_at = time.monotonic()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        self._retention_if_due(batch.sparkSession)
        # Kafka gives one Spark partition per topic partition (a hundred here), most of them
        # empty in a micro-batch; every write below would schedule a task for each.
        batch = batch.coalesce(2).persist()
        try:
            present = batch.groupBy("topic", confluent_avro.schema_id(F.col("value")).alias(
                "sid")).count().collect()
            if not present:
                return
            ids: dict[str, set[int]] = {}
            counts: dict[str, int] = {}
            for row in present:
                ids.setdefault(row["topic"], set())
                if row["sid"] is not None:
                    ids[row["topic"]].add(int(row["sid"]))
                counts[row["topic"]] = counts.get(row["topic"], 0) + int(row["count"])
            spark = batch.sparkSession
            work = [(self.tables[topic], sids, counts[topic]) for topic, sids in ids.items()
                    if topic in self.tables]
            self.log(f"  batch {batch_id} started: {sum(counts.values())} record(s) of "
                     f"{len(work)} topic(s)")
            with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
                list(pool.map(lambda w: self._land_table(spark, batch, batch_id, *w), work))
            self.stats.batches += 1
            self.log(f"  batch {batch_id}: {sum(counts.values())} record(s) "
                     f"({', '.join(f'{t} {n}' for t, n in sorted(counts.items()))}) "
                     f"in {time.monotonic() - started:.1f}s")
        finally:
            batch.unpersist()

    def _retention_if_due(self, spark: SparkSession) -> None:
        """The continuous landing is the lake's only writer while it runs (Delta on S3
        assumes one writer per table), so it applies retention itself, between batches."""
        if self.retention_every is None:
            return
        if time.monotonic() - self._retention_at < self.retention_every:
            return
        from pipelines.retention import apply_retention

        self.log("  retention: expiring partitions past their retention class")
        apply_retention(spark, tables=list(self.tables.values()), log=self.log)
        self._retention_at = time.monotonic()

    def _land_table(self, spark: SparkSession, batch: DataFrame, batch_id: int,
                    table: LakeTable, sids: set[int], records: int) -> None:
        res = resolve(table, sids, self.schemas)
        decoded = decoded_frame(batch.where(F.col("topic") == table.topic.name), table, res)
        t0 = time.monotonic()
        append_bronze(bronze_rows(decoded, table), table, batch_id)
        t1 = time.monotonic()
        silver = silver_rows(decoded, table).persist()
        try:
            per_date = silver.groupBy("_event_date").count().collect()
            readable = sum(int(r["count"]) for r in per_date)
            t2 = time.monotonic()
            if readable:
                merge_silver(spark, silver, table, [r["_event_date"] for r in per_date])
            t3 = time.monotonic()
            if readable and table.entity_key:
                merge_current(spark, silver, table)
            t4 = time.monotonic()
            self.stats.add(table.name, records, records - readable)
            self.log(f"    {table.name}: {records} record(s); bronze {t1 - t0:.1f}s, "
                     f"decode {t2 - t1:.1f}s, silver {t3 - t2:.1f}s, current {t4 - t3:.1f}s")
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

def kafka_stream(spark: SparkSession, tables: Sequence[LakeTable],
                 max_offsets_per_trigger: int) -> DataFrame:
    s = get_settings()
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", s.kafka_bootstrap_servers)
        .option("subscribe", ",".join(sorted({t.topic.name for t in tables})))
        .option("startingOffsets", "earliest")
        # The core's relay writes in Kafka transactions: never land an aborted batch.
        .option("kafka.isolation.level", "read_committed")
        # Retention may delete records the job has not read; land what remains and say so.
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", max_offsets_per_trigger)
        .load()
    )


def start(spark: SparkSession, *, available_now: bool,
          tables: Sequence[LakeTable] = LAKE_TABLES, trigger_seconds: int | None = None,
          max_offsets_per_trigger: int = 200_000,
          writer: BatchWriter | None = None) -> tuple[StreamingQuery, BatchWriter]:
    writer = writer or BatchWriter(tables)
    ensure_tables(spark, tables)
    stream = (
        kafka_stream(spark, tables, max_offsets_per_trigger).writeStream
        .foreachBatch(writer)
        .option("checkpointLocation", uri(landing_checkpoint()))
        .queryName("lake_landing")
    )
    seconds = trigger_seconds or get_settings().landing_trigger_seconds
    stream = (stream.trigger(availableNow=True) if available_now
              else stream.trigger(processingTime=f"{seconds} seconds"))
    return stream.start(), writer


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
        query, writer = start(spark, available_now=True, tables=tables,
                              max_offsets_per_trigger=max_offsets,
                              writer=BatchWriter(tables, log=log))
        query.awaitTermination()
        if query.exception() is not None:
            raise RuntimeError(f"landing failed: {query.exception()}")
        st = writer.stats
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
                        help="records per micro-batch at most (all topics together)")
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
        spark = build_session("lake_landing")
        query, _ = start(spark, available_now=False, tables=tables,
                         trigger_seconds=args.trigger_seconds,
                         max_offsets_per_trigger=args.max_offsets_per_trigger,
                         writer=BatchWriter(tables, log=lambda m: print(m, flush=True),
                                            retention_every=RETENTION_EVERY_SECONDS))
        print(f"landing {len(tables)} topic(s) continuously into "
              f"{get_settings().lake_root}; Ctrl-C stops", flush=True)
        try:
            while query.isActive:
                query.awaitTermination(5)
                write_status(query)
        except KeyboardInterrupt:
            query.stop()
        if query.exception() is not None:
            print(f"landing failed: {query.exception()}", file=sys.stderr)
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


def committed_offsets() -> dict[str, dict[str, int]]:
    """The Kafka offsets up to which the landing query has committed to Delta, read from
    its checkpoint (`offsets/<last committed batch>`); empty before the first batch."""
    from infra.services.minio import s3_client

    s = get_settings()
    s3 = s3_client()
    root = landing_checkpoint()
    listed = s3.list_objects_v2(Bucket=s.lake_bucket, Prefix=f"{root}/commits/")
    batches = [int(o["Key"].rsplit("/", 1)[1]) for o in listed.get("Contents", [])
               if o["Key"].rsplit("/", 1)[1].isdigit()]
    if not batches:
        return {}
    body = s3.get_object(Bucket=s.lake_bucket, Key=f"{root}/offsets/{max(batches)}")
    lines = body["Body"].read().decode().splitlines()
    out: dict[str, dict[str, int]] = {}
    for line in lines[2:]:  # "v1", the batch metadata, then one line per source
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
        done = committed_offsets()
        behind = {(t, p) for t, parts in target.items() for p, end in parts.items()
                  if end > 0 and done.get(t, {}).get(p, 0) < end}
        if not behind:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"landing still behind on {sorted(behind)[:5]}")
        time.sleep(poll)


def status_file() -> Path:
    return get_settings().run_dir / "lake-landing.status.json"


def write_status(query: StreamingQuery) -> None:
    """What the health check reads: the last progress of the continuous query."""
    progress: dict[str, Any] = dict(query.lastProgress or {})
    path = status_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({
        "checked_at": time.time(), "active": query.isActive,
        "batch_id": progress.get("batchId"), "batch_at": progress.get("timestamp"),
        "input_rows": progress.get("numInputRows"),
    }))
    tmp.replace(path)


if __name__ == "__main__":
    main()
