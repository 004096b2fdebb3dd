"""One way to build a SparkSession: Delta Lake, S3A on the lake's object store, Kafka, Avro.

The extra jars (`infra/spark_jars.py`) come from Maven Central through Spark's own resolver
(Ivy) once, into `.local/cache/ivy`; later sessions put the resolved jars straight on the
classpath and skip resolution. With SPARK_MASTER pointing at a cluster the same settings
apply there.
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from infra.settings import get_settings
from infra.spark_jars import IVY_SETTINGS, PACKAGES, ivy_dir, remember_resolution, resolved_jars


def build_session(app_name: str, *, resolve: bool = False) -> SparkSession:
    s = get_settings()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(s.spark_master)
        .config("spark.driver.memory", s.spark_driver_memory)
        .config("spark.driver.bindAddress", s.bind_host)
        .config("spark.driver.host", s.bind_host)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(s.spark_shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        # Delta tables must stay readable by ClickHouse's Delta Lake reader: no deletion
        # vectors or column mapping (writer features it does not implement everywhere).
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "false")
        # A reader schema that gained a field (a compatible evolution) widens silver tables
        # through MERGE as well as through appends.
        .config("spark.databricks.delta.schema.autoMerge.enabled", "true")
        # Delta rebuilds a table's snapshot with 50 tasks by default; the landing touches
        # dozens of small tables per micro-batch, and on a couple of cores those tasks are
        # most of its time.
        .config("spark.databricks.delta.snapshotPartitions", str(s.spark_shuffle_partitions))
        .config("spark.hadoop.fs.s3a.endpoint", s.s3_endpoint_url)
        .config("spark.hadoop.fs.s3a.access.key", s.s3_access_key)
        .config("spark.hadoop.fs.s3a.secret.key", s.s3_secret_key)
        .config("spark.hadoop.fs.s3a.endpoint.region", s.s3_region)
        .config("spark.hadoop.fs.s3a.path.style.access", "true")
        .config("spark.hadoop.fs.s3a.connection.ssl.enabled",
                str(s.s3_endpoint_url.startswith("https")).lower())
        .config("spark.hadoop.fs.s3a.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
        .config("spark.hadoop.fs.s3a.aws.credentials.provider",
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=WARN")
    )
    jars = [] if resolve else resolved_jars()
    if jars:
        builder = builder.config("spark.jars", ",".join(str(j) for j in jars))
    else:
        builder = (
            builder.config("spark.jars.packages", ",".join(PACKAGES))
            .config("spark.jars.ivy", str(ivy_dir()))
            .config("spark.jars.ivySettings", str(IVY_SETTINGS))
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if not jars:
        remember_resolution()
    return spark


def main() -> None:
    """Resolve the jars now (first install); prints Ivy's progress."""
    print(f"  resolving Spark jars from Maven Central into {ivy_dir()}:", flush=True)
    for p in PACKAGES:
        print(f"    {p}", flush=True)
    spark = build_session("resolve-jars", resolve=True)
    spark.stop()
    print(f"  {len(resolved_jars())} jars cached", flush=True)


if __name__ == "__main__":
    main()
