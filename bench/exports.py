"""exports: a report of 1 million rows exported as XLSX and CSV by the real serving API.

    python -m bench.exports [--rows 1000000] [--runs 3] [--quick]

* data: a hand-made mart `bench_export_rows` (one shop, 366 days, `--rows` rows: date,
  product id, Russian product name, units, revenue, discounts, net, a per-cent share,
  a hidden cost) in a temporary embedded warehouse (`WAREHOUSE_PATH` of its own), and a
  report declared over it the way `serving_api/reports/catalog.py` declares its reports;
* system under test: the real serving API (`uvicorn` on a free port, one process, the
  report added to `REPORTS` before the app is made) runs the export job: `POST
  /analytics/export` (X-Internal-Token), polled until done: the rows streamed from chdb,
  written by `serving_api.exports.writers` to a temporary file, uploaded to MinIO
  (multipart), the manifest written; `seconds` = POST to `done`; `peak_rss_mb` = the API
  process's VmHWM over that export (reset before each export through
  /proc/<pid>/clear_refs, so it is that export's peak, the warehouse's query memory
  included); the file is then downloaded once through its link to check its size;
* baseline, same run: a process of its own opens the same warehouse and streams the same
  `SELECT ... ORDER BY` (the export's query) through clickhouse-connect's row block stream
  with every row converted by `model.convert` and dropped (`select_rows_seconds`), and the
  engine's own CSV of the same query streamed to /dev/null (`select_csv_seconds`), with
  that process's peak RSS. Ratios: export seconds over the bare row stream.

Targets (issue 10 §3): XLSX of 1M rows < 30 s and < 300 MB peak RSS of the exporting
process. Objects go under `EXPORTS_PREFIX=bench/exports-<random>` and are deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.lake_common import loadavg
from bench.results import RESULTS_DIR, Result, all_met, median_of, ratio, target
from infra.settings import REPO_ROOT, get_settings
from serving_api.reports.model import Column, Ratio, Report

NAME = "exports"
SHOP = "6b1f1c9e-0000-4000-8000-00000000b001"
REPORT = Report(
    name="bench_export",
    title_ru="Товары по дням (бенчмарк)",
    description="1M hand-made rows for bench/exports.py",
    models=("bench_export_rows",),
    sql="""
        SELECT date, product_id, product_name, units, revenue, discounts, net, share, cost
        FROM $db.bench_export_rows
        WHERE shop_id = {shop:String} AND date BETWEEN {lo:Date} AND {hi:Date}
    """,
    columns=(
        Column("date", "date", "Дата"),
        Column("product_id", "id", "ID товара"),
        Column("product_name", "text", "Товар"),
        Column("units", "count", "Продано, шт."),
        Column("revenue", "money", "Выручка, сом"),
        Column("discounts", "money", "Скидки, сом"),
        Column("net", "money", "Чистая выручка, сом"),
        Column("share", "percent", "Доля в выручке, %", total=Ratio("net", "cost")),
        Column("cost", "money", "Себестоимость, сом", hidden=True),
    ),
    key=("date", "product_id"),
    default_sort="date",
)
FROM, TO = "2024-01-01", "2024-12-31"


def _peak_rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# --- children (each opens the warehouse alone: chdb allows one process) --------------------


def child_build(rows: int) -> None:
    from warehouse.client import get_client

    db = get_settings().warehouse_database
    c = get_client()
    c.command(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    c.command(f"""CREATE OR REPLACE TABLE `{db}`.bench_export_rows (
        shop_id String, date Date, product_id String, product_name String, units Int64,
        revenue Decimal(18, 2), discounts Decimal(18, 2), net Decimal(18, 2),
        share Decimal(9, 2), cost Decimal(18, 2)) ENGINE = MergeTree
        ORDER BY (shop_id, date, product_id)""")
    names = ["Смартфон Samsung Galaxy A54 128 ГБ", "Кыргыз калпагы ак", "Тоо балы 1 кг",
             "Чай «Иссык-Куль», 100 г", "Кроссовки Nike Air, р. 42", "Шоро максым 1 л"]
    c.command(f"""INSERT INTO `{db}`.bench_export_rows
        SELECT '{SHOP}', toDate('{FROM}') + (number % 366),
               concat('p-', leftPad(toString(intDiv(number, 366)), 8, '0')),
               concat(arrayElement({names!r}, 1 + number % 6), ' #', toString(number)),
               1 + number % 17,
               toDecimal64((number % 100000) * 1.37 + 35, 2),
               toDecimal64((number % 7) * 5.5, 2),
               toDecimal64((number % 100000) * 1.37 + 35 - (number % 7) * 5.5, 2),
               toDecimal32((number % 10000) / 100, 2),
               toDecimal64((number % 100000) * 0.9 + 20, 2)
        FROM numbers({rows})""")
    [(n,)] = c.query(f"SELECT count() FROM `{db}`.bench_export_rows").result_rows
    print(json.dumps({"rows": int(n)}))


def child_baseline() -> None:
    import datetime as dt
    from uuid import UUID

    from serving_api.exports.rows import select_sql, streamed_rows
    from serving_api.reports.model import ReportQuery, Sort
    from warehouse.client import get_client

    c = get_client()
    query = ReportQuery(UUID(SHOP), dt.date.fromisoformat(FROM), dt.date.fromisoformat(TO))
    sort = Sort.parse(REPORT, None)
    assert sort is not None
    t0 = time.perf_counter()
    n = sum(1 for _ in streamed_rows(c, REPORT, query, sort))
    rows_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    size = 0
    with c.raw_stream(select_sql(REPORT, sort), parameters=query.parameters(),
                      fmt="CSVWithNames") as stream, open(os.devnull, "wb") as null:
        for chunk in stream:
            null.write(chunk)
            size += len(chunk)
    csv_s = time.perf_counter() - t0
    print(json.dumps({"rows": n, "select_rows_seconds": round(rows_s, 3),
                      "select_csv_seconds": round(csv_s, 3), "select_csv_bytes": size,
                      "peak_rss_mb": _peak_rss_mb()}))


def child_serve(port: int) -> None:
    import uvicorn

    from serving_api.main import create_app
    from serving_api.reports.catalog import REPORTS

    REPORTS[REPORT.name] = REPORT
    uvicorn.run(create_app(), host=get_settings().bind_host, port=port, log_level="warning",
                access_log=False)


def _child(mode: str, *extra: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.exports", "--child", mode, *extra],
                         cwd=REPO_ROOT, env=os.environ.copy(), check=True,
                         capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- the API under test ---------------------------------------------------------------------


@contextmanager
def serving_api() -> Iterator[tuple[str, int]]:
    from bench.loadgen import _stop, _wait_healthy, free_port

    host = get_settings().bind_host
    port = free_port(host)
    log = get_settings().logs_dir / "bench-exports-api.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.exports", "--child", "serve", "--port", str(port)],
            cwd=REPO_ROOT, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://{host}:{port}"
    try:
        _wait_healthy(base, proc, timeout=120)
        yield base, proc.pid
    finally:
        _stop(proc)


def export_once(base: str, pid: int, fmt: str) -> dict[str, Any]:
    headers = {"X-Internal-Token": get_settings().internal_token}
    body = {"report": REPORT.name, "shop_id": SHOP, "from": FROM, "to": TO, "format": fmt}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        reset = _reset_peak(pid)
        rss_before = _peak_rss_mb(pid)
        t0 = time.perf_counter()
        r = client.post("/analytics/export", json=body)
        r.raise_for_status()
        job = r.json()
        polls = 0
        while job["status"] not in ("done", "failed"):
            time.sleep(0.2)
            polls += 1
            job = client.get(f"/analytics/export/{job['id']}").json()
        seconds = time.perf_counter() - t0
        peak = _peak_rss_mb(pid)
        if job["status"] != "done":
            raise RuntimeError(f"export failed: {job['error']}")
        size = 0
        t1 = time.perf_counter()
        with client.stream("GET", job["download_url"]) as got:
            got.raise_for_status()
            for chunk in got.iter_bytes():
                size += len(chunk)
        download = time.perf_counter() - t1
    assert size == job["bytes"], (size, job["bytes"])
    return {"seconds": round(seconds, 3), "peak_rss_mb": peak,
            "rss_before_mb": rss_before, "peak_rss_growth_mb": round(peak - rss_before, 1),
            "peak_reset": reset, "rows": job["rows_written"],
            "bytes": size, "download_seconds": round(download, 3), "status_polls": polls}


def cleanup(prefix: str) -> None:
    from infra.services.minio import s3_client

    s3 = s3_client()
    bucket = get_settings().exports_bucket
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                             Prefix=prefix + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def summarize(result: Result, rows: int) -> None:
    """Medians, ratios and targets over the runs so far."""
    result.notes.clear()
    rs = result.runs
    for fmt in ("xlsx", "csv"):
        result.median[fmt] = {k: median_of(rs, f"{fmt}.{k}")
                              for k in ("seconds", "peak_rss_mb", "peak_rss_growth_mb",
                                        "rss_before_mb", "bytes", "download_seconds")}
    result.baseline_median = {k: median_of(rs, f"baseline.{k}") for k in (
        "select_rows_seconds", "select_csv_seconds", "peak_rss_mb")}
    base_s = result.baseline_median["select_rows_seconds"]
    for fmt in ("xlsx", "csv"):
        result.ratio[f"{fmt}_over_select_rows"] = ratio(result.median[fmt]["seconds"], base_s)
        result.ratio[f"{fmt}_over_engine_csv"] = ratio(
            result.median[fmt]["seconds"], result.baseline_median["select_csv_seconds"])
        result.ratio[f"{fmt}_rows_per_s"] = (
            round(rows / result.median[fmt]["seconds"]) if result.median[fmt]["seconds"]
            else None)
    if rows >= 1_000_000:
        result.targets = {
            "xlsx_seconds": target(result.median["xlsx"]["seconds"], below=30),
            "xlsx_peak_rss_mb": target(result.median["xlsx"]["peak_rss_mb"], below=300),
            # what the export adds to the process (the embedded engine is ~350 MB idle)
            "xlsx_peak_rss_growth_mb": target(result.median["xlsx"]["peak_rss_growth_mb"],
                                              below=300),
        }
        result.targets["met"] = all_met(result.targets)
    else:
        result.notes.append(f"{rows} rows: targets apply to 1,000,000 rows")
    result.notes.append(
        "embedded warehouse: the API process is also the chdb engine (rss_before_mb, "
        "~350 MB idle, like the baseline process); peak_rss_growth_mb is what the export "
        "itself adds (the query's sort buffers, the writer, the upload)")
    if not all(r[f]["peak_reset"] for r in rs for f in ("xlsx", "csv")):
        result.notes.append("clear_refs not writable: peak RSS is since the API started")


def bench_exports(rows: int, runs: int, results_dir: Path = RESULTS_DIR) -> Result:
    result = Result(NAME, {"rows": rows, "runs": runs, "columns": len(REPORT.visible),
                           "report": REPORT.name, "api": "uvicorn, 1 process, export job "
                           "(POST /analytics/export, polled every 0.2 s)"})
    prefix = f"bench/exports-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as tmp:
        os.environ.update(WAREHOUSE_PATH=str(Path(tmp) / "warehouse"), EXPORTS_PREFIX=prefix)
        os.environ.pop("CLICKHOUSE_URL", None)
        get_settings.cache_clear()
        try:
            print(f"==> building {rows} rows", flush=True)
            t0 = time.perf_counter()
            built = _child("build", "--rows", str(rows))
            result.params["build_seconds"] = round(time.perf_counter() - t0, 1)
            assert built["rows"] == rows, built
            for i in range(runs):
                print(f"==> run {i + 1}/{runs}", flush=True)
                run: dict[str, Any] = {"loadavg": loadavg()}
                run["baseline"] = _child("baseline")
                with serving_api() as (base, pid):
                    for fmt in ("xlsx", "csv"):
                        run[fmt] = export_once(base, pid, fmt)
                        print(f"    {fmt}: {run[fmt]['seconds']} s, peak RSS "
                              f"{run[fmt]['peak_rss_mb']} MB, {run[fmt]['bytes']} bytes",
                              flush=True)
                print(f"    baseline: rows {run['baseline']['select_rows_seconds']} s, "
                      f"engine CSV {run['baseline']['select_csv_seconds']} s", flush=True)
                result.runs.append(run)
                summarize(result, rows)
                result.write(results_dir)  # after every run: a long run keeps its figures
        finally:
            cleanup(prefix)
    summarize(result, rows)
    result.extra["speed_probe_seconds"] = _speed_probe()
    return result


def _speed_probe() -> float:
    """A pure-Python loop (10M additions): how fast this shared machine ran Python today."""
    t0 = time.perf_counter()
    s = 0
    for i in range(10_000_000):
        s += i
    return round(time.perf_counter() - t0, 3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 1 run")
    parser.add_argument("--rows", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--runs", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--child", choices=("build", "baseline", "serve"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "build":
        child_build(args.rows)
        return 0
    if args.child == "baseline":
        child_baseline()
        return 0
    if args.child == "serve":
        child_serve(args.port)
        return 0
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    result = bench_exports(rows, args.runs or (1 if args.quick else 3), args.results_dir)
    result.params["quick"] = args.quick
    print(f"    wrote {result.write(args.results_dir)}", flush=True)
    print(json.dumps({"median": result.median, "baseline": result.baseline_median,
                      "ratio": result.ratio, "targets": result.targets}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

