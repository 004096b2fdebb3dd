"""Exports (issue 10 §3): the CSV, the XLSX (read back with openpyxl) and the JSON of the
same report agree to the tyiyn, for every declared report with rows and for a probe report
with every column kind; constant memory; export jobs against the real MinIO (create →
progress → done → the link downloads the same bytes; link expiry and tampering; a job left
running by a dead process is failed after a restart); limits and tenancy, never a 500."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import secrets
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from infra.settings import get_settings
from platform_common.money import CENT
from serving_api.exports import writers
from serving_api.exports.jobs import ExportJobs, JobStore, link_token, this_process
from serving_api.reports.catalog import REPORTS
from serving_api.reports.model import DECIMAL_KINDS, Column, Ratio, Report
from tests.serving_api.conftest import World
from tests.serving_api.test_reports import w  # noqa: F401  (every report's marts, with rows)
from tests.serving_api.test_tenancy import expired_token, tampered_token

pytestmark = pytest.mark.integration

RANGE = {"from": "2024-05-01", "to": "2024-05-03"}
UNKNOWN = UUID("00000000-0000-4000-8000-0000000000ab")

# A report with every column kind, over a hand-made table (registered for this module).
PROBE = Report(
    name="export_probe",
    title_ru="Проверка: выгрузка/отчёт [все типы]",
    description="Every column kind, odd texts, extreme amounts (tests only).",
    models=("export_probe",),
    sql="""
        SELECT day, at, name, product_id, qty, amount, share, cost
        FROM $db.export_probe
        WHERE shop_id = {shop:String} AND day BETWEEN {lo:Date} AND {hi:Date}
    """,
    columns=(
        Column("day", "date", "Дата"),
        Column("at", "datetime", "Время продажи"),
        Column("name", "text", "Товар"),
        Column("product_id", "id", "ID товара"),
        Column("qty", "count", "Продано, шт."),
        Column("amount", "money", "Выручка, сом"),
        Column("share", "percent", "Маржа, %", total=Ratio("amount", "cost")),
        Column("cost", "money", "Себестоимость, сом", hidden=True),
    ),
    key=("day", "product_id"),
    default_sort="day",
)
NAMES = ["Чай «Иссык-Куль», 100 г", '=HYPERLINK("http://evil")', "+996 555 00 00",
         "-скидка 10%", "@продавец", 'кавычки "двойные"; и точка с запятой', "две\nстроки",
         "", None, "Ak-Terek kalpak", "\tтаб"]
AMOUNTS = ["0.00", "-15.99", "9999999999999.99", "0.01", "1234567.89", "100.10",
           "-0.01", "5.55", "42.00", "777.77", "3.33"]
# 50 million rows, counted but never read: the cap must refuse it before any work.
HUGE = Report(
    name="export_huge", title_ru="Огромный", description="50M rows (tests only).",
    models=(), key=("n",), default_sort="n",
    sql="SELECT toDate({lo:Date}) AS day, number AS n FROM numbers(50000000) "
        "WHERE {shop:String} != '' AND {hi:Date} >= {lo:Date}",
    columns=(Column("day", "date", "Дата"), Column("n", "count", "Номер")))


@pytest.fixture(scope="module", autouse=True)
def exports_env(serving_env: Path) -> Iterator[str]:
    """Exports under a prefix of their own in the exports bucket (deleted afterwards), and
    the probe reports declared."""
    prefix = f"test-exports-{secrets.token_hex(4)}"
    mp = pytest.MonkeyPatch()
    mp.setenv("EXPORTS_PREFIX", prefix)
    get_settings.cache_clear()
    mp.setitem(REPORTS, PROBE.name, PROBE)
    mp.setitem(REPORTS, HUGE.name, HUGE)
    yield prefix
    store = JobStore()
    for page in store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket,
                                                                   Prefix=prefix + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            store.s3.delete_objects(Bucket=store.bucket, Delete={"Objects": keys})
    mp.undo()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def probe(world: World) -> World:
    """The probe table (shop A: one row per name; shop B: one row) and its JSON route."""
    from serving_api.routers import reports
    from serving_api.schemas import ReportResponse
    from warehouse.client import get_client

    db = get_settings().warehouse_database
    client = get_client()
    client.command(f"""CREATE OR REPLACE TABLE `{db}`.export_probe (
        shop_id String, day Date, at DateTime64(3, 'UTC'), name Nullable(String),
        product_id String, qty Int64, amount Decimal(18, 2), share Decimal(9, 2),
        cost Decimal(18, 2)) ENGINE = MergeTree ORDER BY (shop_id, day)""")
    rows = []
    for i, (name, amount) in enumerate(zip(NAMES, AMOUNTS, strict=True)):
        rows.append([str(world.shop_a), dt.date(2024, 5, 1 + i % 3),
                     dt.datetime(2024, 5, 1 + i % 3, 17 + i % 7, i, 30, 123000),
                     name, f"p-{i:03d}", i * 7, Decimal(amount), Decimal(f"{i * 3}.25"),
                     Decimal("10.00")])
    rows.append([str(world.shop_b), dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 9),
                 "чужой", "p-b", 1, Decimal("1.00"), Decimal("1.00"), Decimal("1.00")])
    client.insert(f"`{db}`.export_probe", rows, column_names=[
        "shop_id", "day", "at", "name", "product_id", "qty", "amount", "share", "cost"])
    world.serving.app.add_api_route(
        f"/analytics/shops/{{shop_id}}/{PROBE.name}", reports._reader(PROBE), methods=["GET"],
        response_model=ReportResponse, response_model_by_alias=True)
    return world


# --- reading the three formats back ---------------------------------------------------


def json_report(wd: World, report: str, shop: UUID, **params: Any) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        r = wd.serving.get(f"/analytics/shops/{shop}/{report}", headers=wd.seller_a.headers,
                          params=RANGE | params | {"page": page, "page_size": 500})
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["rows"]
        if page >= body["page"]["pages"]:
            return body | {"rows": rows}
        page += 1


def local(value: str) -> dt.datetime:
    """A JSON date-time (naive = UTC) as a naive Asia/Bishkek wall-clock time."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(get_settings().timezone)).replace(tzinfo=None)


def as_json(kind: str, cell: Any, source: str) -> Any:
    """A cell of the CSV (excel / rfc4180 dialect) or the XLSX, as the JSON would say it."""
    if source == "xlsx":
        if cell is None or cell == "":
            return None
        if kind in DECIMAL_KINDS:
            assert isinstance(cell, float | int)
            return f"{Decimal(repr(float(cell))).quantize(CENT):f}"
        if kind == "count":
            assert isinstance(cell, int)
            return cell
        if kind == "date":
            assert isinstance(cell, dt.datetime)
            return cell.date().isoformat()
        if kind == "datetime":
            assert isinstance(cell, dt.datetime)
            return cell
        return cell
    if cell == "":
        return None
    excel = source == "excel"
    if kind in DECIMAL_KINDS:
        return f"{Decimal(cell.replace(',', '.') if excel else cell):f}"
    if kind == "count":
        return int(cell)
    if kind == "date":
        return (dt.datetime.strptime(cell, "%d.%m.%Y").date() if excel
                else dt.date.fromisoformat(cell)).isoformat()
    if kind == "datetime":
        return (dt.datetime.strptime(cell, "%d.%m.%Y %H:%M:%S") if excel
                else local(cell))
    if excel and cell.startswith("'") and cell[1:].startswith(("=", "+", "-", "@", "\t")):
        return cell[1:]
    return cell


def expected(kind: str, value: Any, source: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        moment = local(value)
        # CSV and XLSX keep whole seconds / milliseconds of the local time
        return moment.replace(microsecond=0) if source == "excel" else \
            moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if value == "":
        return None  # an empty string is an empty cell (CSV cannot tell them apart)
    return value


def read_csv(content: bytes, dialect: str) -> list[list[str]]:
    text = content.decode("utf-8")
    if dialect == "excel":
        assert text.startswith("\ufeff")
        text = text[1:]
    else:
        assert not text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text, newline=""),
                           delimiter=";" if dialect == "excel" else ","))


def read_xlsx(content: bytes) -> list[list[list[Any]]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [[list(r) for r in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]


def assert_agree(report: Report, body: dict[str, Any], files: dict[str, bytes]) -> None:
    """Every visible cell of every row of the CSV (both dialects) and the XLSX is the
    JSON's value; the XLSX totals row is the JSON's totals; the headers are right."""
    columns = report.visible
    for source, content in files.items():
        if source == "xlsx":
            [sheet] = read_xlsx(content)
            header, data, totals = sheet[0], sheet[1:-1], sheet[-1]
            assert header == [c.title_ru for c in columns]
            for c, cell in zip(columns, totals, strict=True):
                want = body["totals"].get(c.name)
                if want is None:
                    assert cell in (None, "Итого")
                else:
                    assert as_json(c.kind, cell, source) == want, (c.name, cell, want)
            assert "Итого" in totals
        else:
            table = read_csv(content, source)
            header, data = table[0], table[1:]
            assert header == [c.title_ru if source == "excel" else c.name for c in columns]
        assert len(data) == len(body["rows"]), source
        for got, want in zip(data, body["rows"], strict=True):
            for c, cell in zip(columns, got, strict=True):
                assert as_json(c.kind, cell, source) == expected(c.kind, want[c.name], source), (
                    source, c.name, cell, want[c.name])


def export_all(wd: World, report: str, shop: UUID) -> dict[str, bytes]:
    out = {}
    for source, params in (("excel", {"format": "csv"}),
                           ("rfc4180", {"format": "csv", "dialect": "rfc4180"}),
                           ("xlsx", {"format": "xlsx"})):
        r = wd.serving.get("/analytics/export", headers=wd.seller_a.headers,
                          params=RANGE | params | {"report": report, "shop_id": str(shop)})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == writers.MEDIA_TYPES[
            writers.ExportFormat(params["format"])]
        assert "attachment" in r.headers["content-disposition"]
        out[source] = r.content
    return out


# --- agreement ------------------------------------------------------------------------


@pytest.mark.usefixtures("w")
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_declared_report_agrees_in_json_csv_and_xlsx(probe: World, name: str) -> None:
    """With the marts tests/serving_api/test_reports.py fills (shop A has rows in each)."""
    report = REPORTS[name]
    r = probe.serving.get(f"/analytics/shops/{probe.shop_a}/{name}",
                          headers=probe.seller_a.headers, params=RANGE)
    if r.status_code == 503 or (r.status_code == 200 and not r.json()["rows"]):
        pytest.skip(f"{name}: no mart with rows in the test warehouse")
    body = json_report(probe, name, probe.shop_a)
    assert_agree(report, body, export_all(probe, name, probe.shop_a))


def test_every_column_kind_agrees_to_the_tyiyn(probe: World) -> None:
    body = json_report(probe, PROBE.name, probe.shop_a)
    assert len(body["rows"]) == len(NAMES)
    assert {r["amount"] for r in body["rows"]} == set(AMOUNTS)  # 9999999999999.99 too
    files = export_all(probe, PROBE.name, probe.shop_a)
    assert_agree(PROBE, body, files)
    # sorted the other way, the same rows in the other order everywhere
    desc = json_report(probe, PROBE.name, probe.shop_a, sort="-amount")
    assert desc["rows"][0]["amount"] == "9999999999999.99"
    r = probe.serving.get("/analytics/export", headers=probe.seller_a.headers, params=RANGE | {
        "report": PROBE.name, "shop_id": str(probe.shop_a), "format": "xlsx", "sort": "-amount"})
    assert_agree(PROBE, desc, {"xlsx": r.content})


def test_the_workbook_is_typed_for_a_russian_seller(probe: World) -> None:
    files = export_all(probe, PROBE.name, probe.shop_a)
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    sheet = book.worksheets[0]
    assert sheet.title == writers.sheet_title(PROBE, 1) and len(sheet.title) <= 31
    assert not set(sheet.title) & set("[]:*?/\\")
    assert sheet.freeze_panes == "A2"
    by_title = {cell.value: cell.column for cell in sheet[1]}
    money = sheet.cell(row=2, column=by_title["Выручка, сом"])
    assert money.data_type == "n" and money.number_format == "#,##0.00"
    day = sheet.cell(row=2, column=by_title["Дата"])
    assert day.is_date and day.number_format == "dd.mm.yyyy"
    at = sheet.cell(row=2, column=by_title["Время продажи"])
    assert at.is_date and isinstance(at.value, dt.datetime)
    qty = sheet.cell(row=3, column=by_title["Продано, шт."])
    assert qty.data_type == "n" and qty.number_format == "#,##0"
    names = [sheet.cell(row=r, column=by_title["Товар"]) for r in range(2, 2 + len(NAMES))]
    assert all(c.data_type in ("s", "n") and c.data_type != "f" for c in names)
    assert '=HYPERLINK("http://evil")' in [c.value for c in names]  # a string, not a formula
    assert "Себестоимость, сом" not in by_title  # hidden columns stay out
    # the CSV for Excel: the formula is defused, ';' inside a cell is quoted
    text = files["excel"].decode("utf-8")
    assert "'=HYPERLINK" in text and '"кавычки ""двойные""; и точка с запятой"' in text
    assert "\r\n" in text


def test_xlsx_rows_continue_on_another_sheet(probe: World, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setattr(get_settings(), "export_xlsx_rows_per_sheet", 4)
    body = json_report(probe, PROBE.name, probe.shop_a)
    r = probe.serving.get("/analytics/export", headers=probe.seller_a.headers, params=RANGE | {
        "report": PROBE.name, "shop_id": str(probe.shop_a), "format": "xlsx"})
    sheets = read_xlsx(r.content)
    assert [len(s) for s in sheets] == [5, 5, 5]  # header + 4, header + 4, header + 3 + totals
    book = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert [ws.title for ws in book.worksheets][1].endswith("(2)")
    assert all(s[0] == sheets[0][0] for s in sheets)
    merged = [sheets[0][0], *sheets[0][1:], *sheets[1][1:], *sheets[2][1:]]
    assert_agree(PROBE, body, {"xlsx": _one_sheet(merged)})


def _one_sheet(rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(out)
    return out.getvalue()


def test_report_endpoints_stream_the_same_files(probe: World) -> None:
    for params in ({"format": "csv"}, {"format": "csv", "dialect": "rfc4180"}):
        a = probe.serving.get(f"/analytics/shops/{probe.shop_a}/sales",
                              headers=probe.seller_a.headers, params=RANGE | params)
        b = probe.serving.get("/analytics/export", headers=probe.seller_a.headers,
                              params=RANGE | params | {"report": "sales",
                                                       "shop_id": str(probe.shop_a)})
        assert a.status_code == b.status_code == 200 and a.content == b.content
    a = probe.serving.get(f"/analytics/shops/{probe.shop_a}/sales",
                          headers=probe.seller_a.headers, params=RANGE | {"format": "xlsx"})
    assert read_xlsx(a.content)[0][1][-1] == 100.0


# --- constant memory ------------------------------------------------------------------


def _rows(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"day": dt.date(2024, 5, 1), "at": dt.datetime(2024, 5, 1, 12),
               "name": f"Товар {i}", "product_id": f"p-{i}", "qty": i,
               "amount": Decimal(i) / 100, "share": Decimal("1.50"), "cost": Decimal("2.00")}


def _peak(fn: Any) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_writers_use_constant_memory(tmp_path: Path, fmt: str) -> None:
    """The peak of Python allocations while writing 5,000 rows is the peak for 500 within
    noise (GC, zip buffers: < 1 MiB; the same rows held in memory would take ~4 MiB): nothing
    grows with the rows (tracemalloc makes this slow: small sizes)."""
    def write(n: int) -> Any:
        def run() -> None:
            if fmt == "csv":
                for _ in writers.csv_chunks(PROBE, _rows(n)):
                    pass
            else:
                tally = writers.Tally(PROBE)
                writers.write_xlsx(tmp_path / f"{n}.xlsx", PROBE, tally.over(_rows(n)), tally)
        return run

    write(200)()  # warm up (imports, caches)
    small, large = _peak(write(500)), _peak(write(5_000))
    assert large - small < 1024 * 1024, (small, large)
    assert large < 3 * 1024 * 1024


# --- jobs -----------------------------------------------------------------------------


def wait_done(wd: World, url: str, headers: dict[str, str], timeout: float = 30.0
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = wd.serving.get(url, headers=headers)
        assert r.status_code == 200, r.text
        seen.append(r.json())
        if r.json()["status"] in ("done", "failed"):
            return r.json(), seen
        time.sleep(0.05)
    raise AssertionError(f"export not finished: {seen[-1]}")


def start_job(wd: World, headers: dict[str, str], **fields: Any) -> Any:
    body = {"report": "sales", "shop_id": str(wd.shop_a), **RANGE} | fields
    return wd.serving.post("/analytics/export", headers=headers, json=body)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_job_writes_the_file_to_minio_and_links_it(probe: World, fmt: str) -> None:
    wd = probe
    r = start_job(wd, wd.seller_a.headers, report=PROBE.name, format=fmt)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done") and job["rows_total"] == len(NAMES)
    assert r.headers["location"].endswith(f"/analytics/export/{job['id']}")
    done, seen = wait_done(wd, r.headers["location"], wd.seller_a.headers)
    assert done["status"] == "done", done
    assert done["rows_written"] == done["rows_total"] == len(NAMES) and done["progress"] == 1.0
    assert all(0 <= s["rows_written"] <= s["rows_total"] for s in seen)
    expires = dt.datetime.fromisoformat(done["download_expires_at"])
    ttl = get_settings().export_link_ttl_seconds
    assert abs((expires - dt.datetime.now(dt.UTC)).total_seconds() - ttl) < 30
    # the link needs no other credential, and gives the bytes MinIO holds
    got = wd.serving.get(done["download_url"])
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == done["content_type"]
    assert int(got.headers["content-length"]) == done["bytes"] == len(got.content)
    store = JobStore()
    manifest = store.get_manifest(done["id"])
    assert manifest is not None and manifest["status"] == "done"
    held = store.s3.get_object(Bucket=store.bucket, Key=manifest["object_key"])["Body"].read()
    assert held == got.content
    assert store.running_ids().count(done["id"]) == 0
    # and it is the streamed export's content
    streamed = wd.serving.get("/analytics/export", headers=wd.seller_a.headers, params=RANGE | {
        "report": PROBE.name, "shop_id": str(wd.shop_a), "format": fmt})
    if fmt == "csv":
        assert streamed.content == got.content
    else:
        assert read_xlsx(streamed.content) == read_xlsx(got.content)
    assert_agree(PROBE, json_report(wd, PROBE.name, wd.shop_a),
                 {"excel" if fmt == "csv" else "xlsx": got.content})


def test_the_link_ttl_is_a_setting(probe: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "export_link_ttl_seconds", 90)
    r = start_job(probe, probe.seller_a.headers, format="csv")
    done, _ = wait_done(probe, r.headers["location"], probe.seller_a.headers)
    expires = dt.datetime.fromisoformat(done["download_expires_at"])
    assert 60 < (expires - dt.datetime.now(dt.UTC)).total_seconds() <= 90


def test_bad_links_are_refused_with_stable_codes(probe: World) -> None:
    wd = probe
    r = start_job(wd, wd.seller_a.headers, format="csv")
    done, _ = wait_done(wd, r.headers["location"], wd.seller_a.headers)
    token = done["download_url"].rsplit("/", 1)[1]
    header, payload, signature = token.split(".")
    stale, _ = link_token(done["id"], now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
                          ttl=60)
    cases = {
        "expired": (stale, 403, "EXPORT_LINK_EXPIRED"),
        "tampered payload": (f"{header}.{payload[:-2]}AA.{signature}", 403,
                             "EXPORT_LINK_INVALID"),
        "tampered signature": (f"{header}.{payload}.{signature[::-1]}", 403,
                               "EXPORT_LINK_INVALID"),
        "an access token": (wd.seller_a.access_token, 403, "EXPORT_LINK_INVALID"),
        "garbage": ("not-a-link", 403, "EXPORT_LINK_INVALID"),
        "huge": ("a" * 5000, 403, "EXPORT_LINK_INVALID"),
        "no such job": (link_token(str(uuid.uuid4()))[0], 404, "EXPORT_NOT_FOUND"),
    }
    for case, (bad, status, code) in cases.items():
        r = wd.serving.get(f"/analytics/export/download/{bad}")
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (case, r.text)
    assert wd.serving.get(done["download_url"]).status_code == 200


def test_another_seller_cannot_see_or_start_an_export_of_a_shop_not_theirs(probe: World
                                                                          ) -> None:
    wd = probe
    r = start_job(wd, wd.seller_a.headers, format="csv")
    job_id = r.json()["id"]
    wait_done(wd, r.headers["location"], wd.seller_a.headers)
    other = wd.serving.get(f"/analytics/export/{job_id}", headers=wd.seller_b.headers)
    missing = wd.serving.get(f"/analytics/export/{uuid.uuid4()}", headers=wd.seller_b.headers)
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"] == {"code": "EXPORT_NOT_FOUND",
                                     "message": f"export {job_id} does not exist"}
    assert missing.json()["error"]["code"] == "EXPORT_NOT_FOUND"
    assert wd.serving.get(f"/analytics/export/{job_id}", headers=wd.admin.headers
                         ).status_code == 200
    r = start_job(wd, wd.seller_b.headers, format="csv")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "SHOP_NOT_FOUND")
    r = wd.serving.get("/analytics/export", headers=wd.seller_b.headers, params=RANGE | {
        "report": "sales", "shop_id": str(wd.shop_a)})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "SHOP_NOT_FOUND")


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _left_running(wd: World, worker: dict[str, Any]) -> str:
    """A manifest as a process that died mid-export leaves it: running, its marker set."""
    store = JobStore()
    store.ensure_bucket()
    job_id = str(uuid.uuid4())
    stamp = dt.datetime.now(dt.UTC).isoformat()
    store.mark_running(job_id)
    store.put_manifest({
        "id": job_id, "status": "running", "request": {
            "report": "sales", "shop_id": str(wd.shop_a), "date_from": RANGE["from"],
            "date_to": RANGE["to"], "surface": None, "sort": "date", "format": "xlsx",
            "dialect": "excel"},
        "created_by": str(wd.seller_a.id), "created_role": "seller", "created_at": stamp,
        "updated_at": stamp, "started_at": stamp, "finished_at": None, "rows_total": 2,
        "rows_written": 1, "file_name": "sales.xlsx", "content_type": "x",
        "object_key": None, "bytes": None, "worker": worker, "error": None})
    return job_id


def test_a_job_of_a_dead_process_is_failed_when_the_api_restarts(probe: World,
                                                                  core_dsn: str) -> None:
    from fastapi.testclient import TestClient

    from serving_api.main import create_app

    wd = probe
    host = this_process()["host"]
    dead = _left_running(wd, {"host": host, "pid": _dead_pid(), "pid_start": "1",
                             "instance": "gone"})
    far = _left_running(wd, {"host": "another-host", "pid": 1, "pid_start": "1",
                            "instance": "far"})  # heartbeat fresh: still its own
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        from serving_api.exports.jobs import _pid_start

        alive = _left_running(wd, {"host": host, "pid": sleeper.pid,
                                  "pid_start": _pid_start(sleeper.pid), "instance": "other"})
        store = JobStore()
        with TestClient(create_app(core_dsn)) as again:  # the API starts again
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                m = store.get_manifest(dead)
                if m and m["status"] == "failed":
                    break
                time.sleep(0.1)
            assert m is not None and m["status"] == "failed"  # by the start-up scan
            assert dead not in store.running_ids()
            r = again.get(f"/analytics/export/{dead}", headers=wd.seller_a.headers)
            assert r.status_code == 200
            job = r.json()
            assert job["status"] == "failed" and job["download_url"] is None
            assert job["error"]["code"] == "EXPORT_INTERRUPTED"
            assert "stopped" in job["error"]["message"]
            link, _ = link_token(dead)
            r = again.get(f"/analytics/export/download/{link}")
            assert (r.status_code, r.json()["error"]["code"]) == (404, "EXPORT_NOT_FOUND")
            for live in (alive, far):
                r = again.get(f"/analytics/export/{live}", headers=wd.seller_a.headers)
                assert r.json()["status"] == "running", r.json()
    finally:
        sleeper.kill()
        sleeper.wait()
    r = wd.serving.get(f"/analytics/export/{alive}", headers=wd.seller_a.headers)
    assert r.json()["status"] == "failed"  # its process has gone now


def test_a_job_running_when_the_api_stops_ends_failed(probe: World) -> None:
    from serving_api.auth import Reader

    jobs = ExportJobs()
    jobs._stopping.set()  # the API is stopping: the job must not run to the end
    from serving_api.exports.jobs import ExportRequest

    request = ExportRequest("sales", str(probe.shop_a), RANGE["from"], RANGE["to"], None,
                            "date", "csv", "excel")
    job = jobs.submit(request, Reader(probe.admin.id, "admin", None), 2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = jobs.store.get_manifest(job["id"])
        if m and m["status"] == "failed":
            break
        time.sleep(0.05)
    assert m is not None and m["status"] == "failed"
    assert m["error"]["code"] == "EXPORT_INTERRUPTED" and m["object_key"] is None


# --- bad input: 4xx with a stable code, never a 500 -----------------------------------


def test_bad_exports_get_clear_codes(probe: World, monkeypatch: pytest.MonkeyPatch) -> None:
    wd = probe
    a = str(wd.shop_a)
    base = RANGE | {"report": "sales", "shop_id": a}
    cases: dict[str, tuple[dict[str, Any], dict[str, str], int, str]] = {
        "unknown shop": (base | {"shop_id": str(UNKNOWN)}, wd.seller_a.headers, 404,
                         "SHOP_NOT_FOUND"),
        "unknown shop, admin": (base | {"shop_id": str(UNKNOWN), "report": "nope"},
                                wd.admin.headers, 422, "UNKNOWN_REPORT"),
        "unknown report": (base | {"report": "nope"}, wd.seller_a.headers, 422,
                           "UNKNOWN_REPORT"),
        "bad format": (base | {"format": "pdf"}, wd.seller_a.headers, 422, "INVALID_REQUEST"),
        "bad dialect": (base | {"format": "csv", "dialect": "tsv"}, wd.seller_a.headers, 422,
                        "INVALID_REQUEST"),
        "inverted": (base | {"from": "2024-05-03", "to": "2024-05-01"}, wd.seller_a.headers,
                     422, "INVALID_DATE_RANGE"),
        "huge range": (base | {"from": "2000-01-01", "to": "2100-12-31"}, wd.seller_a.headers,
                       422, "INVALID_DATE_RANGE"),
        "far past": (base | {"from": "1900-01-01", "to": "1900-01-02"}, wd.seller_a.headers,
                     422, "INVALID_DATE_RANGE"),
        "bad sort": (base | {"sort": "password"}, wd.seller_a.headers, 422, "INVALID_SORT"),
        "bad surface": (base | {"surface": "moon"}, wd.seller_a.headers, 422,
                        "INVALID_SURFACE"),
        "50 million rows": (base | {"report": HUGE.name}, wd.admin.headers, 422,
                            "EXPORT_TOO_LARGE"),
        "malformed shop": (base | {"shop_id": "x"}, wd.seller_a.headers, 422,
                           "INVALID_REQUEST"),
        "no token": (base, {}, 401, "UNAUTHORIZED"),
        "expired token": (base, {"Authorization": f"Bearer {expired_token(wd)}"}, 401,
                          "TOKEN_EXPIRED"),
        "tampered token": (base, {"Authorization": f"Bearer {tampered_token(wd)}"}, 401,
                           "UNAUTHORIZED"),
        "buyer": (base, wd.buyer.headers, 403, "FORBIDDEN"),
    }
    store = JobStore()
    before = len(store.running_ids())
    for case, (params, headers, status, code) in cases.items():
        for method in ("GET", "POST"):
            if method == "GET":
                r = wd.serving.get("/analytics/export", headers=headers, params=params)
            else:
                body = {k: v for k, v in params.items()}
                r = wd.serving.post("/analytics/export", headers=headers, json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), (
                case, method, r.text)
    assert len(store.running_ids()) == before  # no job was started
    # more rows than a request streams: a job instead
    monkeypatch.setattr(get_settings(), "export_stream_max_rows", 1)
    for url, params in (("/analytics/export", base),
                        (f"/analytics/shops/{a}/sales", RANGE | {"format": "xlsx"})):
        r = wd.serving.get(url, headers=wd.seller_a.headers, params=params)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "EXPORT_JOB_REQUIRED")
    assert start_job(wd, wd.seller_a.headers).status_code == 202
    # a job's cap
    monkeypatch.setattr(get_settings(), "export_max_rows", 1)
    r = start_job(wd, wd.seller_a.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "EXPORT_TOO_LARGE")
    for bad in ("not-a-uuid", "1" * 5000):
        r = wd.serving.get(f"/analytics/export/{bad}", headers=wd.seller_a.headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
    r = wd.serving.get(f"/analytics/export/{uuid.uuid4()}", headers=wd.seller_a.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "EXPORT_NOT_FOUND")
    r = wd.serving.get(f"/analytics/export/{uuid.uuid4()}",
                      headers={"Authorization": f"Bearer {expired_token(wd)}"})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "TOKEN_EXPIRED")
    r = wd.serving.post("/analytics/export", headers=wd.seller_a.headers,
                       json={"report": "sales", "shop_id": a, **RANGE, "extra": 1})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "INVALID_REQUEST")


def test_a_report_not_built_yet_is_503_not_an_empty_file(probe: World) -> None:
    missing = Report(name="export_unbuilt", title_ru="Нет", description="no mart",
                     models=("no_such_mart",), key=("d",), default_sort="d",
                     sql="SELECT d FROM $db.no_such_mart WHERE {shop:String} != '' "
                         "AND d BETWEEN {lo:Date} AND {hi:Date}",
                     columns=(Column("d", "date", "Дата"),))
    REPORTS[missing.name] = missing
    try:
        for fmt in ("csv", "xlsx"):
            r = probe.serving.get("/analytics/export", headers=probe.admin.headers,
                                  params=RANGE | {"report": missing.name, "format": fmt,
                                                  "shop_id": str(probe.shop_a)})
            assert (r.status_code, r.json()["error"]["code"]) == (503, "REPORT_NOT_READY")
        r = start_job(probe, probe.admin.headers, report=missing.name)
        assert (r.status_code, r.json()["error"]["code"]) == (503, "REPORT_NOT_READY")
    finally:
        del REPORTS[missing.name]


def test_no_temporary_files_are_left_behind(probe: World) -> None:
    import tempfile

    before = {p.name for p in Path(tempfile.gettempdir()).glob("export-*")}
    for _ in range(2):
        r = probe.serving.get("/analytics/export", headers=probe.seller_a.headers,
                              params=RANGE | {"report": "sales", "shop_id": str(probe.shop_a)})
        assert r.status_code == 200
    after = {p.name for p in Path(tempfile.gettempdir()).glob("export-*")}
    assert after <= before | set(), after - before
    assert os.path.isdir(tempfile.gettempdir())


def test_the_export_route_declares_its_formats_for_the_dashboard() -> None:
    """serving_api/routers/dashboard.py offers the formats it reads from the `format`
    parameter's enum of `GET /analytics/export` (and its query parameters)."""
    from fastapi.routing import APIRoute

    from serving_api.routers.exports import router

    [route] = [r for r in router.routes if isinstance(r, APIRoute)
               and r.path == "/analytics/export" and "GET" in (r.methods or set())]
    params = {p.alias or p.name: p for p in route.dependant.query_params}
    assert {"report", "shop_id", "from", "to", "format", "dialect"} <= set(params)
    members = params["format"].field_info.annotation.__members__
    assert sorted(str(m.value) for m in members.values()) == ["csv", "xlsx"]


def test_the_dashboard_offers_both_formats(probe: World) -> None:
    r = probe.serving.get("/dashboard/config")
    assert r.status_code == 200, r.text
    export = r.json()["export"]
    assert export is not None and export["path"] == "/analytics/export"
    assert sorted(export["formats"]) == ["csv", "xlsx"]
    assert {"report", "shop_id", "from", "to", "format"} <= set(export["params"])
