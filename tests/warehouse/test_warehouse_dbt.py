"""dbt on the embedded warehouse over a small silver lake written by Spark (integration).

Writes every table of the lake catalog under a test-only LAKE_PREFIX with the landing's own
schemas (tests/warehouse/lake_fixtures.py): applied POS receipts (sales with discounts, a
refund, a void of a sale, a void of a refund, a standalone discount, cash in and out), online
orders (paid, completed, refunded, expired, cancelled) with their payments, payouts and
refunds, heartbeats with stock snapshots, refused events and the platform's stock history,
on both sides of the Bishkek midnight. Then `dbt build` in-process, and every mart figure is
checked to the tyiyn against tests/warehouse/marts_data.py. A second batch lands late
events: the incremental build recomputes exactly the days they touch; a full refresh gives
the same marts. Finally the serving API's report is read from the same warehouse.

Needs MinIO and the cached Spark jars (the `stack` fixture).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from infra.settings import get_settings
from tests.warehouse import marts_data as m
from tests.warehouse.lake_fixtures import TestLake
from warehouse.client import get_client
from warehouse.refresh import RefreshResult, run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

UTC = dt.UTC
MARTS = ("shop_metric_daily", "product_metric_daily", "order_funnel_daily",
         "payments_reconciliation_daily", "pos_device_health_daily", "stock_discrepancies",
         "product_orders_daily", "shop_insights_daily")
NO_LOOKBACK = ["--vars", "{incremental_lookback_hours: 0}"]


@pytest.fixture(scope="module")
def lake(spark: Any, lake_prefix: str, warehouse_env: Path) -> Iterator[TestLake]:
    """The first batch of events in a lake of our own (LAKE_PREFIX)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PREFIX", lake_prefix)
        get_settings.cache_clear()
        test_lake = TestLake(spark)
        test_lake.create_all_empty()
        for name, events in m.BATCH_1.items():
            test_lake.write(name, events, ingested_at=m.INGESTED_1)
        yield test_lake
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def core_dsn(make_database: Any) -> str:
    """The core's database the serving API checks its callers against (migrated, empty:
    the report is read with the platform's internal credential, which reads every shop)."""
    from marketplace_core.migrate import apply_migrations

    dsn: str = make_database()
    apply_migrations(dsn)
    return dsn


INTERNAL = {"X-Internal-Token": get_settings().internal_token}


def assert_ok(result: RefreshResult) -> None:
    bad = [(n.name, n.status, n.message) for n in result.failed]
    assert result.success, (result.error, bad)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # DateTime64(6, 'UTC') comes back naive
    return value


def read(mart: str, keys: tuple[str, ...], columns: tuple[str, ...]
         ) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    db = get_settings().warehouse_database
    names = ", ".join(f"`{c}`" for c in (*keys, *columns))
    rows = get_client().query(f"SELECT {names} FROM `{db}`.`{mart}`").result_rows
    return {tuple(r[:len(keys)]): tuple(_plain(v) for v in r[len(keys):]) for r in rows}


def shop_metrics() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("shop_metric_daily", ("shop_id", "date"), m.SHOP_METRIC_COLUMNS)


def product_metrics() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("product_metric_daily", ("shop_id", "variant_id", "date"),
                m.PRODUCT_METRIC_COLUMNS)


def product_orders() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("product_orders_daily", ("shop_id", "product_id", "date"),
                m.PRODUCT_ORDERS_COLUMNS)


def insights() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("shop_insights_daily", ("shop_id", "metric", "date"), m.INSIGHT_COLUMNS)


def device_health() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("pos_device_health_daily", ("device_id", "date"), m.DEVICE_HEALTH_COLUMNS)


def funnel() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("order_funnel_daily", ("shop_id", "date"), m.FUNNEL_COLUMNS)


def reconciliation() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("payments_reconciliation_daily", ("shop_id", "date"),
                m.RECONCILIATION_COLUMNS)


def stock() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return read("stock_discrepancies", ("device_id", "item_ref"), m.STOCK_COLUMNS)


def test_reports_are_not_ready_before_the_first_build(warehouse_env: Path, core_dsn: str
                                                      ) -> None:
    from fastapi.testclient import TestClient

    from serving_api.main import create_app

    with TestClient(create_app(core_dsn)) as api:
        r = api.get(f"/analytics/shops/{m.SHOP_A}/sales",
                    params={"from": "2024-05-01", "to": "2024-05-03"}, headers=INTERNAL)
        assert r.status_code == 503 and r.json()["error"]["code"] == "REPORT_NOT_READY"
        r = api.get(f"/analytics/shops/{m.SHOP_A}/sales",
                    params={"from": "2024-05-01", "to": "2024-05-03"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"


def test_build_computes_every_mart_exactly(lake: TestLake) -> None:
    result = run_dbt(["build"])
    assert_ok(result)
    names = {n.name for n in result.nodes}
    assert set(MARTS) <= names
    assert not {"stg_pos__sales", "stg_pos__sale_items", "shop_sales_daily"} & names
    assert not [n.name for n in result.nodes if n.status == "warn"]

    assert shop_metrics() == m.SHOP_METRIC_1
    assert product_metrics() == m.PRODUCT_METRIC_1
    assert product_orders() == m.PRODUCT_ORDERS_1
    assert funnel() == m.FUNNEL
    assert reconciliation() == m.RECONCILIATION
    assert device_health() == m.DEVICE_HEALTH_1
    assert stock() == m.STOCK

    db = get_settings().warehouse_database
    types: dict[str, str] = dict(get_client().query(  # type: ignore[arg-type]
        f"SELECT name, type FROM system.columns WHERE database = '{db}' "
        "AND table = 'shop_metric_daily'"
    ).result_rows)
    money = ("pos_gross", "pos_discounts", "pos_refunds", "pos_voids", "pos_net",
             "online_gross", "online_refunds", "online_net", "net")
    assert {types[c] for c in money} == {"Decimal(18, 2)"}
    assert types["avg_receipt"] == "Nullable(Decimal(18, 2))"
    assert types["date"] == "Date"
    net = shop_metrics()[(m.SHOP_B, m.D1)][-1]
    assert isinstance(net, Decimal) and net.as_tuple().exponent == -2


def test_incremental_build_recomputes_exactly_the_days_late_events_touch(
    lake: TestLake
) -> None:
    """The second batch lands a terminal's offline backlog (B's D1 sale), a new day and a
    late heartbeat. With no lookback, only the shop-days and device-days they touch are
    recomputed: a row the build must not touch keeps a marker we put in it."""
    db = get_settings().warehouse_database
    get_client().command(
        f"ALTER TABLE `{db}`.shop_metric_daily UPDATE merchant_id = 'untouched' "
        f"WHERE shop_id = '{m.SHOP_A}' AND date = '{m.D2}' SETTINGS mutations_sync = 2")
    for name, events in m.BATCH_2.items():
        lake.write(name, events, ingested_at=m.INGESTED_2)

    assert_ok(run_dbt(["build", *NO_LOOKBACK]))
    assert shop_metrics() == m.SHOP_METRIC_2
    assert product_metrics() == m.PRODUCT_METRIC_2
    assert product_orders() == m.PRODUCT_ORDERS_2
    assert insights() == m.INSIGHTS_2
    assert device_health() == m.DEVICE_HEALTH_2
    assert funnel() == m.FUNNEL and reconciliation() == m.RECONCILIATION
    merchants = read("shop_metric_daily", ("shop_id", "date"),
                     ("merchant_id", "_ingested_through"))
    assert merchants[(m.SHOP_A, m.D2)] == ("untouched", m.INGESTED_1)   # not recomputed
    assert merchants[(m.SHOP_B, m.D1)] == (m.MERCHANT_B, m.INGESTED_2)  # recomputed
    assert merchants[(m.SHOP_A, m.D3)] == (m.MERCHANT_A, m.INGESTED_2)  # new


def test_full_refresh_gives_the_same_marts_and_swaps_them_atomically(
    lake: TestLake, warehouse_env: Path
) -> None:
    """Rebuilding everything from the lake gives the incremental marts (the marker aside),
    while readers hammering the report's mart never fail nor see a half-built table."""
    db = get_settings().warehouse_database
    expected_net = sum((v[-1] for v in m.SHOP_METRIC_2.values()), Decimal("0.00"))
    stop = threading.Event()
    errors: list[str] = []
    seen: set[tuple[Any, ...]] = set()

    def reader() -> None:
        client = get_client()
        while not stop.is_set():
            try:
                seen.add(tuple(client.query(
                    f"SELECT count(), sum(net) FROM `{db}`.shop_metric_daily").result_rows[0]))
            except Exception as exc:
                errors.append(repr(exc))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        outcome: list[RefreshResult] = []
        worker = threading.Thread(
            target=lambda: outcome.append(run_dbt(["build", "--full-refresh"])))
        worker.start()
        worker.join(timeout=900)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert outcome, "dbt build did not finish"
    assert_ok(outcome[0])
    assert errors == []
    assert seen == {(len(m.SHOP_METRIC_2), expected_net)}

    assert shop_metrics() == m.SHOP_METRIC_2
    assert product_metrics() == m.PRODUCT_METRIC_2
    assert product_orders() == m.PRODUCT_ORDERS_2
    assert insights() == m.INSIGHTS_2
    assert device_health() == m.DEVICE_HEALTH_2
    assert funnel() == m.FUNNEL and reconciliation() == m.RECONCILIATION
    assert stock() == m.STOCK
    merchants = read("shop_metric_daily", ("shop_id", "date"), ("merchant_id",))
    assert merchants[(m.SHOP_A, m.D2)] == (m.MERCHANT_A,)
    log = (warehouse_env / "dbt-logs" / "dbt.log").read_text()
    assert "EXCHANGE TABLES" in log  # swapped in, not dropped and recreated
    assert get_settings().s3_secret_key not in log  # scrubbed by dbt's logger


def test_the_sales_report_serves_the_mart(lake: TestLake, core_dsn: str) -> None:
    from fastapi.testclient import TestClient

    from serving_api.main import create_app

    D = Decimal
    with TestClient(create_app(core_dsn), headers=INTERNAL) as api:
        r = api.get(f"/analytics/shops/{m.SHOP_A}/sales",
                    params={"from": "2024-05-01", "to": "2024-05-03"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["currency"], body["timezone"]) == ("KGS", "Asia/Bishkek")
        assert [d["date"] for d in body["rows"]] == ["2024-05-01", "2024-05-02", "2024-05-03"]
        d2 = body["rows"][1]
        assert d2 == {
            "date": "2024-05-02", "pos_gross": "266.65", "pos_discounts": "5.99",
            "pos_refunds": "133.33", "pos_voids": "65.67", "pos_net": "61.66",
            "receipts": 1, "units": 2, "avg_receipt": "166.66", "online_orders": 1,
            "online_gross": "200.00", "online_refunds": "200.00", "online_net": "0.00",
            "net": "61.66",
        }
        # the sum of the days; the average over the range: (323.33 + 166.66 + 100.00) / 4
        # = 147.4975 -> 147.50
        assert body["totals"] == {
            "pos_gross": "699.98", "pos_discounts": "15.99", "pos_refunds": "133.33",
            "pos_voids": "65.67", "pos_net": "484.99", "receipts": 4, "units": 7,
            "avg_receipt": "147.50", "online_orders": 2, "online_gross": "399.99",
            "online_refunds": "200.00", "online_net": "199.99", "net": "684.98",
        }
        for day in body["rows"]:
            assert (D(day["pos_gross"]) - D(day["pos_discounts"]) - D(day["pos_refunds"])
                    - D(day["pos_voids"])) == D(day["pos_net"])
            assert D(day["pos_net"]) + D(day["online_net"]) == D(day["net"])

        r = api.get(f"/analytics/shops/{m.SHOP_A}/sales",
                    params={"from": "2024-05-01", "to": "2024-05-03", "format": "csv",
                            "dialect": "rfc4180"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert list(rows[0]) == ["date", *(k for k in d2 if k != "date")]
        assert rows[1] == {k: str(v) for k, v in d2.items()}
        assert [row["net"] for row in rows] == ["523.32", "61.66", "100.00"]

        r = api.get(f"/analytics/shops/{m.SHOP_B}/sales",
                    params={"from": "2023-01-01", "to": "2023-12-31"})
        assert r.json()["rows"] == [] and r.json()["totals"]["avg_receipt"] is None
        assert r.json()["totals"]["net"] == "0.00"

        r = api.get(f"/analytics/shops/{m.SHOP_A}/sales",
                    params={"from": "2024-05-03", "to": "2024-05-01"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_DATE_RANGE"
        r = api.get("/analytics/shops/not-a-uuid/sales",
                    params={"from": "2024-05-01", "to": "2024-05-03"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"


def test_insights_flag_a_sharp_drop_and_rise_against_28_days(lake: TestLake) -> None:
    """A shop C with 28 days of 1000.00 KGS, then 500.00 (-50 %: a drop) and 2020.00
    (window 27 x 1000 + 500 = 27500, mean 982.14: +105.67 %, a rise), written into the
    built mart by hand; only the insights model is rebuilt from it, then C is taken out."""
    db = get_settings().warehouse_database
    shop_c, first = "00000000-0000-0000-0000-00000000000c", dt.date(2024, 3, 1)
    days = [(first + dt.timedelta(days=n), "1000.00") for n in range(28)]
    days += [(dt.date(2024, 3, 29), "500.00"), (dt.date(2024, 3, 30), "2020.00")]
    values = ", ".join(f"('{shop_c}', '{d}', {v}, '2024-04-01 00:00:00')" for d, v in days)
    client = get_client()
    client.command(f"INSERT INTO `{db}`.shop_metric_daily (shop_id, date, net, "
                   f"_ingested_through) VALUES {values}")
    try:
        assert_ok(run_dbt(["run", "--select", "shop_insights_daily"]))
        got = {k[2]: v[:-1] for k, v in insights().items() if k[0] == shop_c}
    finally:
        client.command(f"DELETE FROM `{db}`.shop_metric_daily WHERE shop_id = '{shop_c}'")
    D = Decimal
    assert got[dt.date(2024, 3, 28)] == (D("1000.00"), None, None, 27, 27, "")
    assert got[dt.date(2024, 3, 29)] == (D("500.00"), D("1000.00"), D("-50.00"), 28, 28,
                                         "drop")
    assert got[dt.date(2024, 3, 30)] == (D("2020.00"), D("982.14"), D("105.67"), 28, 28,
                                         "rise")
    assert {v[-1] for d, v in got.items() if d < dt.date(2024, 3, 29)} == {""}
    # C has no row after 03-30 while the other shops go on to D3: a silent day is a zero
    assert got[dt.date(2024, 3, 31)][0] == D("0.00") and got[dt.date(2024, 3, 31)][-1] == "drop"
    assert shop_metrics() == m.SHOP_METRIC_2


def test_a_missing_delta_table_fails_clearly_and_keeps_the_marts(
    lake: TestLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_PREFIX", f"{get_settings().lake_prefix}-does-not-exist")
    get_settings.cache_clear()
    try:
        result = run_dbt(["build"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert not result.success
    messages = " ".join(str(n.message) for n in result.nodes) + str(result.error)
    assert "no Delta table at" in messages
    assert shop_metrics() == m.SHOP_METRIC_2  # the last good build is still served
