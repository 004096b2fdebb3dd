"""Land `pos.sales` from Kafka into the Delta table `bronze/pos_sales` on the lake.

Every event type lands (sale, refund, void, discount, cash_in/out; version 1 records are
sales); staging picks what it needs. Records of every registered schema version the job
can read are decoded onto the current version's struct.

Structured Streaming with the checkpoint on the lake next to the table: the Delta sink
commits each micro-batch with its batch id, so a restart (or a crash between writing and
committing) never writes a Kafka record twice. Duplicate *deliveries* (the same sale sent
twice, at two offsets) are both kept here, with their offsets, and deduplicated on sale_id
downstream: bronze is the faithful log of what Kafka held.

Run continuously (`python -m pipelines.bronze.pos_sales`) or as a catch-up batch
(`--available-now`, what Dagster runs).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from infra.settings import get_settings
from pipelines import confluent_avro
from pipelines.spark_session import build_session
from schemas.registry import registry_client
from schemas.topics import POS_SALES, Topic, schema_str


@dataclass(frozen=True)
class LandingResult:
    batches: int
    rows: int
    seconds: float
    table_path: str


def table_path(relative: str | None = None) -> str:
    s = get_settings()
    return f"{s.lake_root}/{(relative or s.lake_pos_sales_path).strip('/')}"


def checkpoint_path(relative: str | None = None) -> str:
    s = get_settings()
    rel = (relative or s.lake_pos_sales_path).strip("/")
    return f"{s.lake_root}/_checkpoints/{rel}"


def readable_schemas(topic: Topic) -> dict[int, str]:
    """Registered versions this job can read: schema id -> the schema it was written with,
    for every version the job's own schema (the current one) resolves by Avro's rules.
    Records of other ids land with decode_error UNKNOWN_SCHEMA_ID."""
    client = registry_client()
    ours = schema_str(topic)
    found: dict[int, str] = {}
    for version in client.get_versions(topic.subject):
        registered = client.get_version(topic.subject, version)
        text = registered.schema.schema_str if registered.schema else None
        if registered.schema_id is not None and text and confluent_avro.can_read(ours, text):
            found[registered.schema_id] = text
    if not found:
        raise RuntimeError(f"no registered version of {topic.subject} is readable with "
                           f"{topic.schema_file}")
    return found


def bronze_frame(raw: DataFrame, writer_schemas: dict[int, str],
                 reader_schema: str | None = None) -> DataFrame:
    """Kafka rows -> bronze rows. Every version is projected onto `reader_schema` (default:
    the current pos_sale.avsc), so version 1 sales get event_type 'sale' and nulls for the
    fields they did not have, and old and new records share one Delta table."""
    decoded, error = confluent_avro.decode(
        F.col("value"), writer_schemas, reader_schema or schema_str(POS_SALES))
    return (
        raw.select(
            "topic",
            "partition",
            "offset",
            F.col("timestamp").alias("kafka_timestamp"),
            F.col("key").cast("string").alias("kafka_key"),
            confluent_avro.schema_id(F.col("value")).alias("schema_id"),
            "value",
            decoded.alias("sale"),
            error.alias("decode_error"),
        )
        .select(
            "topic", "partition", "offset", "kafka_timestamp", "kafka_key", "schema_id",
            "value", "decode_error",
            F.current_timestamp().alias("ingested_at"),
            F.col("sale.sale_id").alias("sale_id"),
            F.col("sale.device_id").alias("device_id"),
            F.col("sale.shop_id").alias("shop_id"),
            F.col("sale.receipt_number").alias("receipt_number"),
            F.col("sale.items").alias("items"),
            F.col("sale.event_time").alias("event_time"),
            # version 2 (null/default for version 1 records)
            F.col("sale.event_type").alias("event_type"),
            F.col("sale.sequence_number").alias("sequence_number"),
            F.col("sale.original_receipt_number").alias("original_receipt_number"),
            F.col("sale.discount_amount").alias("discount_amount"),
            F.col("sale.cash_amount").alias("cash_amount"),
            F.col("sale.total").alias("total"),
            F.col("sale.signature").alias("signature"),
        )
    )


def start_landing(
    spark: SparkSession,
    *,
    available_now: bool,
    table: str | None = None,
    checkpoint: str | None = None,
    max_offsets_per_trigger: int = 50_000,
) -> StreamingQuery:
    s = get_settings()
    raw = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", s.kafka_bootstrap_servers)
        .option("subscribe", POS_SALES.name)
        .option("startingOffsets", "earliest")
        # Retention may delete records the job has not read; land what remains and say so.
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", max_offsets_per_trigger)
        .load()
    )
    writer = (
        bronze_frame(raw, readable_schemas(POS_SALES))
        .writeStream.format("delta")
        .outputMode("append")
        # A table first written by the version-1 job gains version 2's columns.
        .option("mergeSchema", "true")
        .option("checkpointLocation", checkpoint or checkpoint_path())
        .queryName("bronze_pos_sales")
    )
    writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
        processingTime="5 seconds"
    )
    return writer.start(table or table_path())


def land_available(spark: SparkSession | None = None, **kwargs: object) -> LandingResult:
    """Land everything Kafka holds now, then stop (the Dagster asset's body)."""
    own = spark is None
    spark = spark or build_session("bronze_pos_sales")
    started = time.monotonic()
    try:
        query = start_landing(spark, available_now=True, **kwargs)  # type: ignore[arg-type]
        query.awaitTermination()
        if query.exception() is not None:
            raise RuntimeError(f"landing failed: {query.exception()}")
        progress = [p for p in query.recentProgress if p]
        rows = sum(int(p["numInputRows"]) for p in progress)
        return LandingResult(
            batches=sum(1 for p in progress if int(p["numInputRows"]) > 0),
            rows=rows,
            seconds=time.monotonic() - started,
            table_path=str(kwargs.get("table") or table_path()),
        )
    finally:
        if own:
            spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--available-now", action="store_true",
                        help="land what Kafka holds now, then exit")
    args = parser.parse_args()
    if args.available_now:
        result = land_available()
        print(f"landed {result.rows} record(s) in {result.batches} batch(es) "
              f"into {result.table_path} ({result.seconds:.1f}s)")
        return
    spark = build_session("bronze_pos_sales")
    query = start_landing(spark, available_now=False)
    print(f"landing {POS_SALES.name} continuously into {table_path()}; Ctrl-C stops")
    try:
        while query.isActive:
            query.awaitTermination(30)
            if query.lastProgress:
                print(f"  batch {query.lastProgress['batchId']}: "
                      f"{query.lastProgress['numInputRows']} rows", flush=True)
    except KeyboardInterrupt:
        query.stop()


if __name__ == "__main__":
    main()
