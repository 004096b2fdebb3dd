"""dbt on the embedded warehouse over a Delta table written by Spark (integration).

Writes a bronze `pos_sales` Delta table with the streaming job's exact contract to a
test-only prefix of the lake, points LAKE_POS_SALES_PATH at it, runs `dbt build` in-process
and checks the mart to the tiyin. Needs MinIO and the cached Spark jars (the `stack` fixture).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from infra.settings import get_settings
from warehouse.client import get_client
from warehouse.refresh import RefreshResult, run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

UTC = dt.UTC


def bronze_schema() -> Any:
    from pyspark.sql import types as T

    item = T.StructType([
        T.StructField("variant_id", T.StringType()),
        T.StructField("qty", T.IntegerType()),
        T.StructField("unit_price", T.DecimalType(12, 2)),
        T.StructField("barcode", T.StringType()),
    ])
    money = T.DecimalType(12, 2)
    return T.StructType([
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("kafka_timestamp", T.TimestampType()),
        T.StructField("kafka_key", T.StringType()),
        T.StructField("schema_id", T.IntegerType(), nullable=True),
        T.StructField("value", T.BinaryType()),
        T.StructField("decode_error", T.StringType()),
        T.StructField("ingested_at", T.TimestampType()),
        T.StructField("sale_id", T.StringType()),
        T.StructField("device_id", T.StringType()),
        T.StructField("shop_id", T.StringType()),
        T.StructField("receipt_number", T.StringType()),
        T.StructField("items", T.ArrayType(item)),
        T.StructField("event_time", T.TimestampType()),
        # pos.sales v2 (the bronze job lands every version projected onto v2)
        T.StructField("event_type", T.StringType()),
        T.StructField("sequence_number", T.LongType()),
        T.StructField("original_receipt_number", T.StringType()),
        T.StructField("discount_amount", money),
        T.StructField("cash_amount", money),
        T.StructField("total", money),
        T.StructField("signature", T.StringType()),
    ])


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


def record(
    partition: int, offset: int, sale_id: str | None, shop: str | None,
    event_time: dt.datetime | None, items: list[tuple[str, int, str]] | None,
    decode_error: str | None = None, event_type: str | None = "sale",
) -> tuple[Any, ...]:
    return (
        "pos.sales", partition, offset, event_time or utc(2024, 5, 1), sale_id, 1,
        b"\x00\x00\x00\x00\x01raw", decode_error, utc(2024, 5, 3), sale_id, "device-1", shop,
        f"R-{sale_id}",
        None if items is None else [(v, q, Decimal(p), None) for v, q, p in items],
        event_time, event_type, offset, None, None, None, None, None,
    )


SHOP_A, SHOP_B = "shop-a", "shop-b"

# Asia/Bishkek is UTC+6: 17:59:59Z is still May 1st there, 18:00:00Z is May 2nd.
FIRST_BATCH = [
    record(0, 0, "a1", SHOP_A, utc(2024, 5, 1, 17, 59, 59),
           [("v1", 2, "10.50"), ("v2", 1, "0.10")]),
    # redelivery of a1 at a higher offset, with a different payload: must be ignored
    record(1, 5, "a1", SHOP_A, utc(2024, 5, 1, 17, 59, 59), [("v9", 100, "999.99")]),
    record(0, 1, "a2", SHOP_A, utc(2024, 5, 1, 18, 0, 0), [("v1", 3, "33.33")]),
    record(0, 2, "a3", SHOP_A, utc(2024, 5, 1, 20, 30), []),  # a receipt without items
    record(0, 3, None, None, None, None, decode_error="AVRO_DECODE_FAILED"),
    record(0, 4, None, SHOP_A, utc(2024, 5, 1, 12), [("v1", 1, "5.00")]),  # no sale_id
    record(1, 0, "b1", SHOP_B, utc(2024, 5, 2, 6), [("v3", 1, "1234567.89"), ("v4", 7, "0.07")]),
    # not a sale (v2 event types): never revenue
    record(1, 2, "r1", SHOP_B, utc(2024, 5, 2, 6, 30), [("v3", 1, "1234567.89")],
           event_type="refund"),
    # a v1 record has no event_type: it is a sale
    record(0, 5, "a4", SHOP_A, utc(2024, 5, 1, 21), [("v2", 1, "0.00")], event_type=None),
]
SECOND_BATCH = [
    record(1, 1, "b2", SHOP_B, utc(2024, 5, 2, 7), [("v3", 2, "0.01")]),
    record(2, 0, "b1", SHOP_B, utc(2024, 5, 2, 6), [("v3", 1, "1.00")]),  # redelivery
]

D1, D2 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
EXPECTED_1 = {
    (SHOP_A, D1): (Decimal("21.10"), 1, 3, utc(2024, 5, 1, 17, 59, 59)),
    (SHOP_A, D2): (Decimal("99.99"), 3, 4, utc(2024, 5, 1, 21)),
    (SHOP_B, D2): (Decimal("1234568.38"), 1, 8, utc(2024, 5, 2, 6)),
}
EXPECTED_2 = EXPECTED_1 | {(SHOP_B, D2): (Decimal("1234568.40"), 2, 10, utc(2024, 5, 2, 7))}


def write_bronze(spark: Any, relative: str, rows: list[tuple[Any, ...]], mode: str) -> None:
    df = spark.createDataFrame(rows, bronze_schema())
    df.write.format("delta").mode(mode).save(f"{get_settings().lake_root}/{relative}")


@pytest.fixture(scope="module")
def bronze(
    spark: Any, lake_prefix: str, warehouse_env: Path
) -> Iterator[str]:
    relative = f"{lake_prefix}/bronze/pos_sales"
    write_bronze(spark, relative, FIRST_BATCH, "overwrite")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_POS_SALES_PATH", relative)
        get_settings.cache_clear()
        yield relative
    get_settings.cache_clear()


def mart() -> dict[tuple[str, dt.date], tuple[Decimal, int, int, dt.datetime]]:
    db = get_settings().warehouse_database
    rows = get_client().query(
        f"SELECT shop_id, sale_date, revenue, receipts, units, last_sale_at "
        f"FROM `{db}`.shop_sales_daily ORDER BY shop_id, sale_date"
    ).result_rows
    return {
        (r[0], r[1]): (r[2], r[3], r[4], r[5].replace(tzinfo=r[5].tzinfo or UTC)) for r in rows
    }


def assert_ok(result: RefreshResult) -> None:
    bad = [(n.name, n.status, n.message) for n in result.failed]
    assert result.success, (result.error, bad)


def test_clickhouse_reads_what_spark_wrote(bronze: str) -> None:
    s = get_settings()
    url = s.lake_http_url(bronze)
    result = get_client().query(
        f"SELECT sale_id, items, schema_id, value, event_time FROM deltaLake("
        f"'{url}', '{s.s3_access_key}', '{s.s3_secret_key}') "
        "WHERE sale_id = 'b1' AND `partition` = 1"
    )
    types = dict(zip(result.column_names, (t.name for t in result.column_types), strict=True))
    assert "Decimal(12, 2)" in types["items"]
    assert types["event_time"].startswith("Nullable(DateTime64(6")
    ((sale_id, items, schema_id, value, event_time),) = result.result_rows
    assert sale_id == "b1" and schema_id == 1
    assert [i["unit_price"] for i in items] == [Decimal("1234567.89"), Decimal("0.07")]
    assert all(isinstance(i["unit_price"], Decimal) for i in items)
    assert value.encode("latin-1") if isinstance(value, str) else value
    assert event_time.replace(tzinfo=UTC) == utc(2024, 5, 2, 6)  # Delta keeps the instant


def test_build_computes_exact_daily_sales(bronze: str) -> None:
    result = run_dbt(["build"])
    assert_ok(result)
    names = {n.name for n in result.nodes}
    assert {"stg_pos__sales", "stg_pos__sale_items", "shop_sales_daily"} <= names
    assert mart() == EXPECTED_1

    db = get_settings().warehouse_database
    types: dict[str, str] = dict(get_client().query(  # type: ignore[arg-type]
        f"SELECT name, type FROM system.columns WHERE database = '{db}' "
        "AND table = 'shop_sales_daily'"
    ).result_rows)
    assert types["revenue"] == "Decimal(18, 2)"
    assert types["sale_date"] == "Date"
    revenue = mart()[(SHOP_B, D2)][0]
    assert isinstance(revenue, Decimal) and revenue.as_tuple().exponent == -2


def test_refresh_swaps_atomically_under_concurrent_reads(
    bronze: str, spark: Any, warehouse_env: Path
) -> None:
    """New Delta version + rebuild while readers hammer the mart: no failed read, and every
    read sees either the whole old table or the whole new one."""
    write_bronze(spark, bronze, SECOND_BATCH, "append")
    db = get_settings().warehouse_database
    totals = {
        (Decimal("1234689.47"), 5, 15),  # before: 21.10 + 99.99 + 1234568.38
        (Decimal("1234689.49"), 6, 17),  # after
    }
    stop = threading.Event()
    errors: list[str] = []
    seen: list[tuple[Any, ...]] = []

    def reader() -> None:
        client = get_client()
        while not stop.is_set():
            try:
                seen.append(tuple(client.query(
                    f"SELECT sum(revenue), sum(receipts), sum(units) FROM `{db}`.shop_sales_daily"
                ).result_rows[0]))
            except Exception as exc:
                errors.append(repr(exc))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        outcome: list[RefreshResult] = []
        worker = threading.Thread(target=lambda: outcome.append(run_dbt(["build"])))
        worker.start()
        worker.join(timeout=300)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert outcome, "dbt build did not finish"
    assert_ok(outcome[0])
    assert errors == []
    assert seen and set(seen) <= totals, set(seen) - totals
    assert mart() == EXPECTED_2
    log = (warehouse_env / "dbt-logs" / "dbt.log").read_text()
    assert "EXCHANGE TABLES" in log  # the table materialization swapped, not drop+create
    assert get_settings().s3_secret_key not in log  # scrubbed by dbt's logger


def test_missing_delta_table_fails_clearly_and_keeps_the_mart(
    bronze: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_POS_SALES_PATH", f"{bronze}-does-not-exist")
    get_settings.cache_clear()
    try:
        result = run_dbt(["build"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert not result.success
    messages = " ".join(str(n.message) for n in result.nodes) + str(result.error)
    assert "no Delta table at" in messages
    assert mart() == EXPECTED_2  # the last good build is still served
