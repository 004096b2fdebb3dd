"""Spark's extra jars (Delta, S3A, Kafka source, Avro): what is installed, and where.

The jars are installed like Kafka's (infra/maven/kafka): from Maven Central, here through
Spark's own resolver (Ivy) once, into `.local/cache/ivy`. `resolved.txt` there remembers
which coordinates were resolved and the jars they gave; later sessions put those jars
straight on the classpath. The resolution itself runs in a Spark job
(`python -m pipelines.spark_session`), which reads its coordinates from here.
"""

from __future__ import annotations

from pathlib import Path

from infra.settings import REPO_ROOT, get_settings

SPARK_VERSION = "4.0.0"
DELTA_VERSION = "4.0.0"
HADOOP_VERSION = "3.4.1"  # must match pyspark's bundled hadoop-client-api

IVY_SETTINGS = REPO_ROOT / "infra" / "spark" / "ivysettings.xml"

PACKAGES = (
    f"io.delta:delta-spark_2.13:{DELTA_VERSION}",
    f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}",
    f"org.apache.spark:spark-sql-kafka-0-10_2.13:{SPARK_VERSION}",
    f"org.apache.spark:spark-avro_2.13:{SPARK_VERSION}",
)


def ivy_dir() -> Path:
    return get_settings().ivy_cache_dir


def resolved_marker() -> Path:
    return ivy_dir() / "resolved.txt"


def resolved_jars() -> list[Path]:
    """Jars from a previous resolution of exactly PACKAGES, else an empty list."""
    marker = resolved_marker()
    if not marker.exists() or marker.read_text().splitlines()[:1] != [",".join(PACKAGES)]:
        return []
    jars = [Path(p) for p in marker.read_text().splitlines()[1:]]
    return jars if all(j.exists() for j in jars) else []


def remember_resolution() -> None:
    """After Ivy resolved PACKAGES into the cache: record the jars it gave."""
    jar_dir = ivy_dir() / "jars"
    jars = sorted(str(p) for p in jar_dir.glob("*.jar"))
    resolved_marker().write_text("\n".join([",".join(PACKAGES), *jars]) + "\n")
