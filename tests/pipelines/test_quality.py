"""Data-quality suites: generated for every catalog table (unit), and run with Great
Expectations over a real silver Delta table read through chdb (integration): a duplicated
event id, a null in a non-nullable column and an amount with 3 decimals are reported as
ERROR failures; a clean table passes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from infra.settings import get_settings
from pipelines.lake_catalog import LAKE_TABLES, by_name
from pipelines.quality import Layer, Severity, all_suites, build_suite, run_suite
from pipelines.quality.avro_fields import AvroField, top_level_fields
from pipelines.quality.rules import (
    BRONZE_COLUMNS,
    MONEY_MAY_BE_NEGATIVE,
    REFERENCES,
    SILVER_META_COLUMNS,
)

# --- unit: the suites are generated, for every table --------------------------------------


def test_a_bronze_and_a_silver_suite_for_every_catalog_table() -> None:
    suites = {(s.table.name, s.layer) for s in all_suites()}
    assert suites == {(t.name, layer) for t in LAKE_TABLES for layer in Layer}


@pytest.mark.parametrize("table", LAKE_TABLES, ids=lambda t: t.name)
def test_suites_follow_the_catalog_and_the_schema(table: Any) -> None:
    bronze = {c.id: c for c in build_suite(table, Layer.BRONZE).checks}
    assert {f"column_exists:{c}" for c in BRONZE_COLUMNS} <= set(bronze)
    assert bronze["unique:partition,offset"].severity is Severity.ERROR
    assert bronze["known_codes:decode_error"].severity is Severity.ERROR
    for col in ("topic", "partition", "offset", "value"):
        assert bronze[f"not_null:{col}"].severity is Severity.ERROR

    silver = {c.id: c for c in build_suite(table, Layer.SILVER).checks}
    fields = top_level_fields(table.topic)
    assert {f"column_exists:{c}" for c in (*(f.name for f in fields), *SILVER_META_COLUMNS)} \
        <= set(silver)
    assert silver[f"unique:{table.dedup_key}"].severity is Severity.ERROR
    not_null = {i.split(":", 1)[1] for i in silver if i.startswith("not_null:")}
    assert not_null == {f.name for f in fields if not f.nullable} | {"_event_date"}
    money = [f for f in fields if f.is_money]
    for f in money:
        assert silver[f"money_scale:{f.name}"].severity is Severity.ERROR
        assert f"money_range:{f.name}" in silver
        negative_ok = f.name in MONEY_MAY_BE_NEGATIVE.get(table.name, frozenset())
        assert (f"money_non_negative:{f.name}" in silver) is not negative_ok
    assert not any(i.startswith("money_") and i.split(":")[1] not in {f.name for f in money}
                   for i in silver)
    assert silver[f"not_future:{table.event_time}"].severity is Severity.WARN


def test_suites_are_valid_great_expectations_suites() -> None:
    for spec in all_suites():
        suite = spec.to_gx()
        assert len(suite.expectations) == len(spec.checks)
        severities = {(e.meta or {})["check_id"]: ((e.meta or {})["severity"],
                                                     str(e.severity.value))
                      for e in suite.expectations}
        for check in spec.checks:
            ours, theirs = severities[check.id]
            assert ours == check.severity
            assert theirs == ("critical" if check.severity is Severity.ERROR else "warning")


def test_references_point_at_catalog_tables_and_schema_fields() -> None:
    for ref in REFERENCES:
        source, target = by_name(ref.table), by_name(ref.target)
        assert ref.column in {f.name for f in top_level_fields(source.topic)}
        assert target.entity_key == ref.target_column
        assert ref in build_suite(source, Layer.SILVER).references


def test_money_is_every_decimal_of_scale_two() -> None:
    payment = {f.name: f for f in top_level_fields(by_name("core_payments").topic)}
    assert payment["amount"] == AvroField("amount", False, "decimal", 12, 2)
    assert payment["amount"].is_money and payment["acquiring_fee"].nullable
    assert not payment["take_rate"].is_money  # decimal(5,4): a rate


# --- integration: a real silver table, read through chdb ------------------------------------

PAYMENTS = by_name("core_payments")
ORDERS = by_name("core_orders")
NOW = datetime.now(UTC).replace(microsecond=0)


def _uri(relative: str) -> str:
    return f"{get_settings().lake_root}/{relative}"


def _spark_type(f: AvroField, amount_scale: int) -> Any:
    from pyspark.sql import types as T

    simple = {"string": T.StringType(), "long": T.LongType(), "int": T.IntegerType(),
              "boolean": T.BooleanType(), "bytes": T.BinaryType(),
              "timestamp": T.TimestampType(), "double": T.DoubleType()}
    if f.kind == "decimal":
        assert f.precision is not None and f.scale is not None
        scale = amount_scale if f.name == "amount" else f.scale
        return T.DecimalType(f.precision + scale - f.scale, scale)
    return simple[f.kind]


def _payment(n: int, order_id: str, **changes: Any) -> dict[str, Any]:
    at = NOW - timedelta(hours=n + 1)
    row = {
        "event_id": str(uuid.uuid4()), "event_type": "payment.succeeded", "occurred_at": at,
        "payment_id": str(uuid.uuid4()), "order_id": order_id, "buyer_id": str(uuid.uuid4()),
        "merchant_id": str(uuid.uuid4()), "shop_id": str(uuid.uuid4()), "status": "succeeded",
        "amount": Decimal("1500.00"), "currency": "KGS", "provider": "simulator",
        "psp_payment_id": f"psp-{n}", "acquiring_fee": Decimal("30.00"),
        "take_rate": Decimal("0.0500"), "take_rate_amount": Decimal("75.00"),
        "_topic": PAYMENTS.topic.name, "_partition": 0, "_offset": n, "_kafka_timestamp": at,
        "_schema_id": 1, "_ingested_at": NOW, "_event_date": at.date(),
    }
    return {**row, **changes}


def _write_payments(spark: Any, rows: list[dict[str, Any]], amount_scale: int = 2) -> None:
    from pyspark.sql import types as T

    meta = [T.StructField("_topic", T.StringType()), T.StructField("_partition", T.IntegerType()),
            T.StructField("_offset", T.LongType()),
            T.StructField("_kafka_timestamp", T.TimestampType()),
            T.StructField("_schema_id", T.IntegerType()),
            T.StructField("_ingested_at", T.TimestampType()),
            T.StructField("_event_date", T.DateType())]
    schema = T.StructType([T.StructField(f.name, _spark_type(f, amount_scale))
                           for f in top_level_fields(PAYMENTS.topic)] + meta)
    (spark.createDataFrame([tuple(r[c] for c in schema.names) for r in rows], schema)
     .write.format("delta").mode("overwrite").option("overwriteSchema", "true")
     .partitionBy("_event_date").save(_uri(PAYMENTS.silver_path)))


@pytest.fixture(scope="module")
def orders_current(spark: Any) -> list[str]:
    """core_orders_current with three orders (the target of payments.order_id)."""
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert ORDERS.current_path
    spark.createDataFrame([(i, NOW) for i in ids], "order_id string, occurred_at timestamp") \
        .write.format("delta").save(_uri(ORDERS.current_path))
    return ids


@pytest.mark.integration
def test_a_table_not_landed_yet_is_a_warning(lake_prefix: str) -> None:
    result = run_suite(by_name("core_users"), Layer.BRONZE, now=NOW)
    assert not result.landed and not result.passed
    assert result.severity is Severity.WARN
    assert result.message.startswith("not landed yet")


@pytest.mark.integration
def test_a_clean_silver_table_passes(spark: Any, orders_current: list[str]) -> None:
    _write_payments(spark, [_payment(n, orders_current[n]) for n in range(3)])
    result = run_suite(PAYMENTS, Layer.SILVER, now=NOW)
    assert result.landed and result.rows == 3
    assert result.failures == [], [f.line() for f in result.failures]
    assert result.passed and result.skipped == []  # the reference was checked, and held
    assert result.evaluated == len(build_suite(PAYMENTS, Layer.SILVER).checks) + 1
    assert "_event_date from" in result.window


@pytest.mark.integration
def test_duplicates_nulls_and_three_decimals_fail_with_error(
        spark: Any, orders_current: list[str]) -> None:
    first = _payment(0, orders_current[0], amount=Decimal("12.345"))
    rows = [
        first,
        _payment(1, orders_current[1], event_id=first["event_id"]),  # redelivered, kept twice
        _payment(2, str(uuid.uuid4()), provider=None),  # an order core_orders never had
    ]
    _write_payments(spark, rows, amount_scale=3)
    result = run_suite(PAYMENTS, Layer.SILVER, now=NOW)

    assert not result.passed and result.severity is Severity.ERROR
    errors = {f.check_id: f for f in result.errors}
    assert set(errors) == {"unique:event_id", "not_null:provider", "money_scale:amount"}
    assert errors["unique:event_id"].observed["unexpected_count"] == 2
    assert errors["not_null:provider"].observed["unexpected_count"] == 1
    assert errors["money_scale:amount"].observed["examples"] == ["12.345"]
    warns = {f.check_id for f in result.failures if f.severity is Severity.WARN}
    assert warns == {"reference:order_id_in_core_orders_current"}
    md = result.metadata()
    assert md["failed_error"] == 3 and md["failed_warn"] == 1
    assert {f["check"] for f in md["failures"]} == set(errors) | warns

    # The same table through Dagster: the blocking check fails with ERROR severity, lists
    # each failed expectation with its observed value, and what reads the table does not run.
    import dagster as dg

    from orchestration.defs.quality import definitions as quality

    checked = dg.AssetKey(["silver", PAYMENTS.name])

    @dg.asset(key=checked)
    def silver_stub() -> None:
        return None

    @dg.asset(deps=[checked])
    def payments_mart() -> None:
        return None

    job = dg.define_asset_job("payments", selection=[checked, dg.AssetKey("payments_mart")])
    run = (dg.Definitions.merge(quality.defs, dg.Definitions(
        assets=[silver_stub, payments_mart], jobs=[job]))
        .resolve_job_def("payments").execute_in_process(raise_on_error=False))
    assert not run.success
    [evaluation] = run.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "12.345" in str(evaluation.metadata["failed money_scale:amount"].value)
    assert evaluation.metadata["failed_error"].value == 3
    assert dg.AssetKey("payments_mart") not in {
        e.asset_key for e in run.get_asset_materialization_events()}


@pytest.mark.integration
def test_bronze_suite_reads_the_landing_layout(spark: Any) -> None:
    rows = [  # (partition, offset, value, decode_error)
        (0, 1, b"\x00\x00\x00\x00\x01ok", None),
        (0, 2, b"junk", "NOT_CONFLUENT_FRAMED"),
        (0, 2, b"\x00\x00\x00\x00\x01ok", None),  # the same Kafka record twice
        (1, 1, None, "SOMETHING_NEW"),  # no value, and a code nobody knows
    ]
    today = NOW.date()
    data = [(PAYMENTS.topic.name, p, o, NOW, "key", 1, v, str(uuid.uuid4()), NOW, err, NOW,
             today) for p, o, v, err in rows]
    schema = ("topic string, partition int, offset long, kafka_timestamp timestamp, "
              "kafka_key string, schema_id int, value binary, event_id string, "
              "event_time timestamp, decode_error string, ingested_at timestamp, "
              "kafka_date date")
    (spark.createDataFrame(data, schema).write.format("delta").partitionBy("kafka_date")
     .save(_uri(PAYMENTS.bronze_path)))

    result = run_suite(PAYMENTS, Layer.BRONZE, now=NOW)
    assert result.landed and result.rows == 4 and "kafka_date from" in result.window
    assert {f.check_id for f in result.errors} == {
        "unique:partition,offset", "not_null:value", "known_codes:decode_error"}
    assert [f.check_id for f in result.failures if f.severity is Severity.WARN] == [
        "decoded:decode_error"]


@pytest.mark.integration
def test_a_landed_table_with_no_record_yet_passes(spark: Any) -> None:
    """The landing creates every catalog table empty (a topic with no event yet): its
    suites must pass on zero rows, not fail every column_exists."""
    from pipelines.landing import ensure_tables

    table = by_name("analytics_bad_events")
    ensure_tables(spark, [table])
    for layer in (Layer.BRONZE, Layer.SILVER):
        result = run_suite(table, layer, now=NOW)
        assert result.landed and result.rows == 0
        assert result.failures == [], [f.line() for f in result.failures]
