"""Analysts' read-only SQL (POST /analytics/sql, issue 10 §5) against the real serving API
(in-process) and a throw-away embedded warehouse with hand-written marts: who may call it,
typed results as JSON, Arrow and Parquet (decimals exact in polars), what is refused and
with which code, the limits, the audit line. Never a 500."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from infra.settings import get_settings
from serving_api.analyst_sql import audit
from serving_api.routers import analyst_sql
from tests.serving_api.conftest import World

pytestmark = pytest.mark.integration

SQL = "/analytics/sql"


@pytest.fixture(scope="module")
def w(world: World) -> World:
    """The shared world plus a table with awkward types, and a `lake` table that must stay
    out of reach."""
    from warehouse.client import get_client

    db = get_settings().warehouse_database
    client = get_client()
    client.command(
        f"CREATE OR REPLACE TABLE `{db}`.odd (id UUID, f Float64, "
        "m Nullable(Decimal(18, 2)), d Date, ts DateTime64(6, 'UTC'), tags Array(String)) "
        "ENGINE = MergeTree ORDER BY id")
    client.command(
        f"INSERT INTO `{db}`.odd VALUES ('00000000-0000-4000-8000-000000000001', nan, NULL, "
        "'2024-05-01', '2024-05-01 10:00:00', ['a']), "
        "('00000000-0000-4000-8000-000000000002', 1.5, 12345678901234.99, '2024-05-02', "
        "'2024-05-02 10:00:00', [])")
    client.command("CREATE DATABASE IF NOT EXISTS lake")
    client.command("CREATE OR REPLACE TABLE lake.secret (x Int8) ENGINE = Memory")
    return world


def post(w: World, sql: str, who: str = "analyst", fmt: str = "json") -> Any:
    headers = {"none": {}, "garbage": {"Authorization": "Bearer not.a.jwt"},
               "internal": {"X-Internal-Token": get_settings().internal_token},
               "buyer": w.buyer.headers, "seller": w.seller_a.headers,
               "admin": w.admin.headers, "analyst": w.analyst.headers}[who]
    return w.serving.post(SQL, json={"sql": sql, "format": fmt}, headers=headers)


def error_code(r: Any) -> str:
    assert r.headers["content-type"].startswith("application/json"), r.text
    body = r.json()
    assert set(body) == {"error"}, body
    return str(body["error"]["code"])


@contextlib.contextmanager
def settings_env(**env: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        get_settings.cache_clear()
        try:
            yield
        finally:
            mp.undo()
            get_settings.cache_clear()


@pytest.mark.parametrize(("who", "status", "code"), [
    ("none", 401, "UNAUTHORIZED"), ("garbage", 401, "UNAUTHORIZED"),
    ("buyer", 403, "FORBIDDEN"), ("seller", 403, "FORBIDDEN"),
    ("internal", 403, "FORBIDDEN"), ("analyst", 200, None), ("admin", 200, None),
])
def test_who_may_query(w: World, who: str, status: int, code: str | None) -> None:
    r = post(w, "SELECT count() AS n FROM shop_metric_daily", who)
    assert r.status_code == status, r.text
    if code:
        assert error_code(r) == code
        assert str(w.shop_a) not in r.text
    else:
        assert r.json()["rows"] == [[3]]
    headers = {"analyst": w.analyst.headers, "seller": w.seller_a.headers,
               "none": {}}.get(who)
    if headers is not None:
        t = w.serving.get("/analytics/sql/tables", headers=headers)
        assert t.status_code == status, t.text


def test_json_is_typed_and_exact(w: World) -> None:
    r = post(w, "SELECT shop_id, date, net, receipts FROM analytics.shop_metric_daily "
                f"WHERE shop_id = '{w.shop_a}' ORDER BY date")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == [{"name": "shop_id", "type": "String"},
                               {"name": "date", "type": "Date"},
                               {"name": "net", "type": "Decimal(18, 2)"},
                               {"name": "receipts", "type": "Int64"}]
    assert body["rows"] == [[str(w.shop_a), "2024-05-01", "100.00", 1],
                            [str(w.shop_a), "2024-05-02", "50.50", 1]]
    assert body["row_count"] == 2 and body["truncated"] is False
    assert body["limits"] == {"timeout_seconds": 30.0, "max_rows": 100_000}
    odd = post(w, "SELECT * FROM odd ORDER BY id").json()
    assert odd["rows"] == [
        ["00000000-0000-4000-8000-000000000001", "NaN", None, "2024-05-01",
         "2024-05-01T10:00:00+00:00", ["a"]],
        ["00000000-0000-4000-8000-000000000002", 1.5, "12345678901234.99", "2024-05-02",
         "2024-05-02T10:00:00+00:00", []]]


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
def test_arrow_and_parquet_keep_decimals_for_polars(w: World, fmt: str) -> None:
    r = post(w, "SELECT shop_id, date, net FROM shop_metric_daily ORDER BY shop_id, date",
             fmt=fmt)
    assert r.status_code == 200, r.text
    assert r.headers["x-row-count"] == "3" and r.headers["x-truncated"] == "false"
    df = (pl.read_ipc if fmt == "arrow" else pl.read_parquet)(io.BytesIO(r.content))
    assert df.schema["net"] == pl.Decimal(18, 2)
    assert df.schema["date"] == pl.Date
    assert df["net"].sum() == Decimal("1150.49")
    odd = post(w, "SELECT id, m FROM odd ORDER BY id", fmt=fmt)
    frame = (pl.read_ipc if fmt == "arrow" else pl.read_parquet)(io.BytesIO(odd.content))
    assert frame.schema["id"] == pl.String
    assert frame["m"].to_list() == [None, Decimal("12345678901234.99")]


@pytest.mark.parametrize(("sql", "fragment"), [
    ("INSERT INTO shop_metric_daily (shop_id) VALUES ('x')", "not Insert"),
    ("DROP TABLE shop_metric_daily", "not Drop"),
    ("CREATE TABLE t2 (a Int8) ENGINE = Memory", "not Create"),
    ("ALTER TABLE shop_metric_daily DELETE WHERE 1", "not Alter"),
    ("SET readonly = 0", "not Set"),
    ("SHOW TABLES", "not Show"),
    ("SELECT 1; DROP TABLE shop_metric_daily", "one statement"),
    ("SELECT 1; SELECT 2", "one statement"),
    ("SELECT 1 SETTINGS readonly = 0", "readonly"),  # the engine's own refusal
    ("SELECT * FROM (SELECT 1 SETTINGS max_threads = 64)", "SETTINGS"),
    ("SELECT 1 INTO OUTFILE '/tmp/analyst-out.csv'", "OUTFILE"),
    ("SELECT 1 FORMAT CSV", "FORMAT"),
    ("SELECT file('/etc/passwd')", "file()"),
    ("SELECT dictGet('d', 'x', 1)", "dictGet()"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "file()"),
    ("SELECT * FROM url('http://127.0.0.1:9000/', 'LineAsString')", "url()"),
    ("SELECT * FROM s3('http://127.0.0.1:9000/lake/x', 'LineAsString')", "s3()"),
    ("SELECT * FROM deltaLake('http://127.0.0.1:9000/lake/x/')", "deltaLake()"),
    ("SELECT * FROM executable('ls', 'LineAsString', 'x String')", "executable()"),
    ("SELECT * FROM merge('system', '^one$')", "merge()"),
    ("SELECT * FROM python('x')", "python()"),
    ("SELECT * FROM system.tables", "not system"),
    ("SELECT * FROM lake.secret", "not lake"),
    ("SELECT 1 FROM shop_metric_daily JOIN system.one AS o ON 1", "not system"),
    ("SELECT 1 WHERE 0 IN system.one", "not system"),
    ("SELECT (SELECT count() FROM lake.secret)", "not lake"),
    ("SELECT * FROM view(SELECT * FROM system.one)", "not system"),
    ("WITH x AS (SELECT * FROM lake.secret) SELECT * FROM x", "not lake"),
])
def test_refused(w: World, sql: str, fragment: str) -> None:
    r = post(w, sql)
    assert r.status_code == 422, r.text
    assert error_code(r) == "SQL_NOT_ALLOWED", r.text
    assert fragment in r.json()["error"]["message"], r.text


def test_the_session_is_read_only_whatever_the_guard_says(w: World) -> None:
    r = post(w, "SELECT getSetting('readonly') AS ro, getSetting('max_result_rows') AS mr")
    assert r.json()["rows"] == [[1, 100_001]]


@pytest.mark.parametrize("sql", [
    "SELEC 1", "SELECT * FROM no_such_mart", "SELECT no_such_column FROM shop_metric_daily",
    "SELECT * FROM t /* open comment", "SELECT {p:String}", "SELECT 1 +",
    "SELECT toDate('not a date')", "SELECT throwIf(1)",
])
def test_bad_sql_is_422_invalid_sql(w: World, sql: str) -> None:
    r = post(w, sql)
    assert r.status_code == 422, r.text
    assert error_code(r) == "INVALID_SQL"
    assert "version" not in r.json()["error"]["message"]


@pytest.mark.parametrize("body", [{}, {"sql": ""}, {"sql": "SELECT 1", "format": "xml"},
                                  {"sql": "x" * 20_001}, {"sql": "SELECT 1", "extra": 1}])
def test_malformed_request_is_422_invalid_request(w: World, body: dict[str, Any]) -> None:
    r = w.serving.post(SQL, json=body, headers=w.analyst.headers)
    assert r.status_code == 422 and error_code(r) == "INVALID_REQUEST"


def test_row_limit_cuts_and_says_so(w: World) -> None:
    with settings_env(ANALYST_SQL_MAX_ROWS="5"):
        r = post(w, "SELECT number FROM numbers(100000)")
        body = r.json()
        assert body["row_count"] == 5 and body["truncated"] is True
        assert body["rows"] == [[0], [1], [2], [3], [4]]
        exact = post(w, "SELECT number FROM numbers(5)").json()
        assert exact["row_count"] == 5 and exact["truncated"] is False
        arrow = post(w, "SELECT number FROM numbers(100000)", fmt="arrow")
        assert arrow.headers["x-truncated"] == "true"
        assert pl.read_ipc(io.BytesIO(arrow.content)).height == 5
        # aggregates over more rows than the limit are exact: only the result is cut
        total = post(w, "SELECT sum(x) FROM (SELECT number AS x FROM numbers(100000))")
        assert total.json()["rows"] == [[4999950000]]


def test_time_limit_stops_the_query(w: World) -> None:
    with settings_env(ANALYST_SQL_TIMEOUT_SECONDS="0.5", ANALYST_SQL_MAX_THREADS="1"):
        r = post(w, "SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) = 0")
    assert r.status_code == 422, r.text
    assert error_code(r) == "SQL_TIMEOUT"
    assert "0.5 s" in r.json()["error"]["message"]


def test_memory_limit(w: World) -> None:
    with settings_env(ANALYST_SQL_MAX_MEMORY_BYTES="20000000"):
        r = post(w, "SELECT groupArray(repeat('x', 1000)) FROM numbers(1000000)")
    assert r.status_code == 422, r.text
    assert error_code(r) == "SQL_LIMIT_EXCEEDED"


def test_busy_when_every_slot_is_taken(w: World) -> None:
    with settings_env(ANALYST_SQL_MAX_CONCURRENT="1"):
        slot = analyst_sql._slot()
        assert slot.acquire(timeout=5)
        try:
            r = post(w, "SELECT 1")
        finally:
            slot.release()
        assert r.status_code == 429 and error_code(r) == "SQL_BUSY"
        assert r.headers["retry-after"] == "2"
        assert post(w, "SELECT 1").status_code == 200


def test_queries_run_in_parallel_up_to_the_limit(w: World) -> None:
    statuses: list[int] = []

    def one() -> None:
        statuses.append(post(w, "SELECT sum(net) FROM shop_metric_daily").status_code)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200, 200]


def test_every_query_is_audited(w: World) -> None:
    marker = "audit-check-7f3a"
    assert post(w, f"SELECT '{marker}' AS m").status_code == 200
    assert post(w, f"SELECT file('{marker}')").status_code == 422
    lines = [json.loads(line) for line in audit.log_path().read_text().splitlines()]
    mine = [e for e in lines if marker in e["sql"]]
    assert [e["outcome"] for e in mine] == ["ok", "SQL_NOT_ALLOWED"]
    assert mine[0]["user_id"] == str(w.analyst.id) and mine[0]["role"] == "analyst"
    assert mine[0]["rows"] == 1 and mine[0]["format"] == "json"


def test_tables_lists_the_warehouse_database_only(w: World) -> None:
    r = w.serving.get("/analytics/sql/tables", headers=w.analyst.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    names = {t["name"] for t in body["tables"]}
    assert body["database"] == get_settings().warehouse_database
    assert {"shop_metric_daily", "odd"} <= names and "secret" not in names
    smd = next(t for t in body["tables"] if t["name"] == "shop_metric_daily")
    assert {"name": "net", "type": "Decimal(18, 2)"} in smd["columns"]
