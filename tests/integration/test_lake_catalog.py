"""Adding a topic to the lake is one catalog entry: a throwaway topic, declared here the way
`pipelines/lake_catalog.py` declares the real ones, lands in bronze, silver and current
state, with a newer compatible schema version decoded, a duplicate removed, and garbage
and an incompatible writer schema kept in bronze with their reasons.

Also (no stack): every topic of the topic catalog has a lake table, and the generated dbt
sources are up to date.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema
from prometheus_client import REGISTRY

from infra.settings import get_settings
from pipelines.lake_catalog import (
    DBT_STAGING_DIR,
    LAKE_TABLES,
    LakeTable,
    dbt_sources,
    source_groups,
)
from schemas.registry import registry_client
from schemas.topics import CATALOG, CORE_MERCHANTS, Topic, schema_str


def test_every_topic_lands_in_the_lake() -> None:
    landed = {t.topic.name for t in LAKE_TABLES}
    assert landed == {t.name for t in CATALOG}
    assert len({t.name for t in LAKE_TABLES}) == len(LAKE_TABLES)


def test_generated_dbt_sources_are_up_to_date() -> None:
    for group in source_groups():
        committed = (DBT_STAGING_DIR / group / "_sources.yml").read_text()
        assert committed == dbt_sources(group), (
            f"dbt/models/staging/{group}/_sources.yml is stale: run "
            "`python -m pipelines.lake_catalog dbt-sources`")


# --- a throwaway topic, landed for real --------------------------------------------------------

def _frame(schema_id: int, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()


@pytest.fixture
def throwaway(lake_prefix_env: str) -> Iterator[LakeTable]:
    name = f"lake.test-{secrets.token_hex(4)}"
    topic = Topic(name=name, key="merchant_id", schema_file=CORE_MERCHANTS.schema_file,
                  partitions=2, retention_ms=3_600_000)
    admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(30)
    # The one declaration adding a topic to the lake takes:
    table = LakeTable(name=name.replace(".", "_").replace("-", "_"), topic=topic,
                      entity_key="merchant_id", description="throwaway")
    try:
        yield table
    finally:
        admin.delete_topics([name])[name].result(30)
        client = registry_client()
        for subject in (topic.subject, f"{topic.subject}-other"):
            for permanent in (False, True):
                with contextlib.suppress(Exception):  # cleanup only
                    client.delete_subject(subject, permanent=permanent)


@pytest.fixture
def lake_prefix_env() -> Iterator[str]:
    prefix = f"test/{uuid.uuid4().hex[:10]}"
    old = os.environ.get("LAKE_PREFIX")
    os.environ["LAKE_PREFIX"] = prefix
    get_settings.cache_clear()
    try:
        yield prefix
    finally:
        if old is None:
            os.environ.pop("LAKE_PREFIX", None)
        else:
            os.environ["LAKE_PREFIX"] = old
        get_settings.cache_clear()
        from tests.integration.test_lake_spine import _delete_prefix

        _delete_prefix(prefix)


@pytest.mark.integration
def test_a_throwaway_topic_lands_in_every_layer(stack: None, spark_session: Any,
                                                 throwaway: LakeTable) -> None:
    from pipelines.landing import land_available, uri

    client = registry_client()
    subject = throwaway.topic.subject
    v1 = json.loads(schema_str(throwaway.topic))
    id_v1 = client.register_schema(subject, Schema(json.dumps(v1), "AVRO"))
    # A newer, compatible version (a field with a default), registered after the reader
    # schema was written: its records must decode, not land as UNKNOWN_SCHEMA_ID.
    v2 = {**v1, "fields": [*v1["fields"], {"name": "note", "type": ["null", "string"],
                                           "default": None}]}
    id_v2 = client.register_schema(subject, Schema(json.dumps(v2), "AVRO"))
    # An incompatible one (merchant name became an int), under another subject.
    bad = {**v1, "fields": [f if f["name"] != "name" else {"name": "name", "type": "int"}
                            for f in v1["fields"]]}
    id_bad = client.register_schema(f"{subject}-other", Schema(json.dumps(bad), "AVRO"))

    now = datetime.now(UTC).replace(microsecond=0)
    merchant = str(uuid.uuid4())

    def event(event_type: str, name: str, **extra: Any) -> dict[str, Any]:
        return {"event_id": str(uuid.uuid4()), "event_type": event_type, "occurred_at": now,
                "merchant_id": merchant, "name": name, "created_at": now, **extra}

    created = event("merchant.created", "Алтын")
    renamed = {**event("merchant.updated", "Алтын Базар", note="renamed"),
               "occurred_at": now + timedelta(seconds=1)}
    records = [
        _frame(id_v1, v1, created),
        _frame(id_v1, v1, created),  # a redelivery: same event id at another offset
        _frame(id_v2, v2, renamed),
        b"not avro at all",
        _frame(id_bad, bad, {**created, "name": 7}),
    ]
    producer = Producer({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    for value in records:
        producer.produce(throwaway.topic.name, key=merchant.encode(), value=value)
    assert producer.flush(30) == 0

    result = land_available(spark_session, tables=[throwaway])
    assert result.records == 5
    # Prometheus (the continuous landing serves these on LAKE_LANDING_METRICS_PORT): all
    # five into bronze; two rows in silver (a redelivery and two unreadable records out).
    assert REGISTRY.get_sample_value("lake_landing_records_total",
                                     {"table": throwaway.name}) == 5
    assert REGISTRY.get_sample_value("lake_landing_silver_rows_total",
                                     {"table": throwaway.name}) == 2
    assert (REGISTRY.get_sample_value("lake_landing_batch_seconds_count",
                                      {"table": throwaway.name}) or 0) >= 1

    bronze = spark_session.read.format("delta").load(uri(throwaway.bronze_path))
    errors = {r["decode_error"]: r["count"] for r in bronze.groupBy("decode_error").count()
              .collect()}
    assert errors == {None: 3, "NOT_CONFLUENT_FRAMED": 1, "INCOMPATIBLE_SCHEMA": 1}
    silver = spark_session.read.format("delta").load(uri(throwaway.silver_path))
    assert sorted(r["event_type"] for r in silver.collect()) == [
        "merchant.created", "merchant.updated"]
    assert "note" not in silver.columns  # resolved onto the current reader schema
    current = spark_session.read.format("delta").load(uri(throwaway.current_path or ""))
    [row] = current.collect()
    assert (row["merchant_id"], row["name"]) == (merchant, "Алтын Базар")

    again = land_available(spark_session, tables=[throwaway])
    assert again.records == 0
    assert spark_session.read.format("delta").load(uri(throwaway.bronze_path)).count() == 5
