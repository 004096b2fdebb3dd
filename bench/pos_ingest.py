"""POS sale to stock visible in the core API: how long a till scan takes to reach buyers.

Setup (in the run's bench database, catalog already loaded): one product of one shop with
its variants given ample stock (so no sale is clamped at 0), the shop's terminal issued
fresh credentials (`pos.credentials.issue_credentials`), the real core API
(`bench.loadgen.core_api`, uvicorn, 2 workers) and the real ingest consumer as its own
process (`python -m marketplace_core.pos.consumer --dsn ...`, its own consumer group).
A real `Terminal` (SQLite outbox, signing, Avro, background sender) sends a heartbeat;
when the database shows it, the pipeline is up; a few warm-up sales are not measured.

One run: the terminal sells one unit of one of the product's variants (round robin) at a
fixed rate; t0 = the moment `sale()` returned (the event is durable in the outbox). Two
observers in threads of this process poll at fixed intervals:

* `api` — `GET /products/{id}` (the buyer's card, which shows each variant's stock);
* `db` (the baseline, a lower bound) — `select stock_qty from product_variants` on an
  autocommit connection: the moment the ingest's transaction is visible in Postgres.

Sale k of a variant is visible once that variant's stock is at least k below where it
stood when the run began (the ingest applies one device's events in order); t1 = when the
first response showing it arrived. Latency = t1 - t0, so it includes up to one polling
interval (reported in the params). `terminal_ack_ms` is the outbox's own view of the same
receipts: delivery report - record time.

Terminal and consumer use temporary topics (`--sales-topic/--heartbeats-topic`), so a
running platform ingest and the lake never see bench traffic.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg

from bench.catalog_data import CatalogInfo
from bench.kafka_tools import kafka_reason, kafka_worker, skipped, temporary_topics
from bench.loadgen import core_api
from bench.pos_producer import redirect_topics
from bench.results import Result, all_met, latency_summary, median_of, ratio, target
from pos_producer import DeviceConfig, Item, Terminal
from schemas.topics import POS_HEARTBEATS, POS_SALES

BENCH_STOCK = 1_000_000


@dataclass(frozen=True)
class SaleToStockParams:
    runs: int
    seconds: float
    rate: float = 20.0
    api_poll_ms: float = 15.0
    db_poll_ms: float = 10.0
    warmup_sales: int = 10
    drain_seconds: float = 30.0


@dataclass(frozen=True)
class Fixture:
    product_id: UUID
    shop_id: UUID
    device_id: str
    variants: list[tuple[UUID, Decimal]]  # (variant, price)


# --- setup ------------------------------------------------------------------------------------


def prepare(dsn: str, info: CatalogInfo) -> tuple[Fixture, str, str]:
    """Pick a product with several variants, top up their stock, issue the shop's terminal
    new credentials; returns the fixture, the token and the secret."""
    from marketplace_core.db import transaction
    from marketplace_core.pos.credentials import issue_credentials

    with transaction(dsn) as conn:
        row = conn.execute(
            "select p.id, p.shop_id from products p join product_variants v on v.product_id ="
            " p.id where not p.is_bundle and p.shop_id = any(%s) group by p.id, p.shop_id"
            " having count(*) between 3 and 8 order by p.id limit 1",
            (info.shop_ids,)).fetchone()
        if row is None:
            raise RuntimeError("the bench catalog has no product with 3-8 variants")
        product_id, shop_id = row
        # Setup, not measured: enough stock that no sale is clamped at 0 (a clamped sale
        # would not move the stock the observers watch).
        variants = conn.execute(
            "update product_variants set stock_qty = %s where product_id = %s"
            " returning id, price", (BENCH_STOCK, product_id)).fetchall()
        device = conn.execute("select id from pos_devices where shop_id = %s order by id"
                              " limit 1", (shop_id,)).fetchone()
        if device is None:
            raise RuntimeError(f"shop {shop_id} has no terminal")
        creds = issue_credentials(conn, device[0])
    fixture = Fixture(product_id, shop_id, creds.device_id,
                      sorted((v, p) for v, p in variants))
    return fixture, creds.token, creds.secret


@contextmanager
def ingest_process(dsn: str, sales_topic: str, heartbeats_topic: str
                   ) -> Iterator[subprocess.Popen[bytes]]:
    group = f"bench-{sales_topic}"
    with kafka_worker("marketplace_core.pos.consumer",
                      ["--dsn", dsn, "--group", group, "--sales-topic", sales_topic,
                       "--heartbeats-topic", heartbeats_topic],
                      "bench-pos-ingest.log", env={**os.environ, "POSTGRES_DSN": dsn}) as proc:
        yield proc


def _wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _stock(conn: psycopg.Connection[Any], variant_ids: list[UUID]) -> dict[UUID, int]:
    rows = conn.execute("select id, stock_qty from product_variants where id = any(%s)",
                        (variant_ids,)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


# --- observers --------------------------------------------------------------------------------


class Observer:
    """Polls a stock reading every `interval_s` in a thread. `seen[v][k]` is when the
    (k+1)-th decrement of variant v since `start()` was first seen."""

    def __init__(self, name: str, read: Callable[[], dict[UUID, int]], interval_s: float
                 ) -> None:
        self.name = name
        self._read = read
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.initial: dict[UUID, int] = {}
        self.seen: dict[UUID, list[float]] = {}
        self.polls = 0
        self.errors = 0

    def start(self, initial: dict[UUID, int]) -> None:
        self.initial = dict(initial)
        self.seen = {v: [] for v in initial}
        self.polls = self.errors = 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"observer-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            try:
                stock = self._read()
            except Exception:  # counted; an observer must not die mid-run
                self.errors += 1
                stock = {}
            now = time.perf_counter()  # when the response arrived: the conservative end
            self.polls += 1
            for variant, qty in stock.items():
                if variant not in self.seen:
                    continue
                times = self.seen[variant]
                decrements = self.initial[variant] - qty
                while len(times) < decrements:
                    times.append(now)
            next_at = max(next_at + self._interval, now)
            delay = next_at - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)

    def count(self) -> int:
        return sum(len(t) for t in self.seen.values())


def api_reader(base_url: str, product_id: UUID) -> tuple[Callable[[], dict[UUID, int]],
                                                         httpx.Client]:
    client = httpx.Client(base_url=base_url, timeout=5)

    def read() -> dict[UUID, int]:
        response = client.get(f"/products/{product_id}")
        response.raise_for_status()
        return {UUID(v["id"]): int(v["stock_qty"]) for v in response.json()["variants"]}

    return read, client


def db_reader(dsn: str, variant_ids: list[UUID]) -> tuple[Callable[[], dict[UUID, int]],
                                                          psycopg.Connection[Any]]:
    conn = psycopg.connect(dsn, autocommit=True)
    return (lambda: _stock(conn, variant_ids)), conn


# --- one run ----------------------------------------------------------------------------------


def _sell(till: Terminal, fixture: Fixture, n: int, rate: float
          ) -> tuple[list[tuple[UUID, int, float, str]], float]:
    """n sales at `rate`, round robin over the variants; returns (variant, k-th sale of
    it, t0, receipt) per sale and how far behind schedule the last one was (ms)."""
    sales: list[tuple[UUID, int, float, str]] = []
    per_variant: dict[UUID, int] = {}
    start = time.perf_counter() + 0.1
    behind = 0.0
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        variant, price = fixture.variants[i % len(fixture.variants)]
        receipt = till.sale([Item(variant_id=variant, qty=1, unit_price=price)])
        t0 = time.perf_counter()
        behind = max(behind, (t0 - scheduled) * 1000)
        k = per_variant.get(variant, 0)
        per_variant[variant] = k + 1
        sales.append((variant, k, t0, receipt))
    return sales, behind


def _latencies(observer: Observer, sales: list[tuple[UUID, int, float, str]]) -> list[float]:
    return [(observer.seen[v][k] - t0) * 1000 for v, k, t0, _ in sales
            if k < len(observer.seen[v])]


def _terminal_acks(outbox: Path, receipts: set[str]) -> list[float]:
    """Delivery report time - record time of the receipts, from the till's own outbox."""
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    try:
        rows = db.execute("select receipt_number, recorded_at, delivered_at from events"
                          " where delivered_at is not null and receipt_number is not null")
        return [(datetime.fromisoformat(d) - datetime.fromisoformat(r)).total_seconds() * 1000
                for n, r, d in rows if n in receipts]
    finally:
        db.close()


def _one_run(dsn: str, till: Terminal, fixture: Fixture, api: Observer, db: Observer,
             params: SaleToStockParams, run_no: int) -> dict[str, Any]:
    variant_ids = [v for v, _ in fixture.variants]
    with psycopg.connect(dsn) as conn:
        initial = _stock(conn, variant_ids)
        dead_before = _dead_letters(conn, fixture.device_id)
    api.start(initial)
    db.start(initial)
    n = int(params.rate * params.seconds)
    try:
        sales, behind_ms = _sell(till, fixture, n, params.rate)
        _wait_for(lambda: api.count() >= n and db.count() >= n, params.drain_seconds)
    finally:
        api.stop()
        db.stop()
    api_ms, db_ms = _latencies(api, sales), _latencies(db, sales)
    acks = _terminal_acks(till.config.outbox, {s[3] for s in sales})
    with psycopg.connect(dsn) as conn:
        dead = _dead_letters(conn, fixture.device_id) - dead_before
        final = _stock(conn, variant_ids)
    moved = sum(initial[v] - final[v] for v in variant_ids)
    return {
        "run": run_no + 1, "sales": n, "rate": params.rate,
        "sale_behind_schedule_max_ms": round(behind_ms, 1),
        "api_seen": len(api_ms), "db_seen": len(db_ms), "missing": n - len(api_ms),
        "stock_moved": moved, "dead_letters": dead,
        "api_ms": latency_summary(api_ms), "db_ms": latency_summary(db_ms),
        "terminal_ack_ms": latency_summary(acks),
        "api_polls": api.polls, "api_poll_errors": api.errors,
        "db_polls": db.polls, "db_poll_errors": db.errors,
    }


def _dead_letters(conn: psycopg.Connection[Any], device_id: str) -> int:
    row = conn.execute("select count(*) from pos_dead_letters where device_id = %s",
                       (device_id,)).fetchone()
    return int(row[0]) if row else 0


def _heartbeat_seen(dsn: str, device_id: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select last_heartbeat_at is not null from pos_devices"
                           " where id = %s", (device_id,)).fetchone()
    return bool(row and row[0])


def bench_sale_to_stock(dsn: str, info: CatalogInfo, params: SaleToStockParams) -> Result:
    result = Result("pos_sale_to_stock", {
        "runs": params.runs, "seconds_per_run": params.seconds, "rate": params.rate,
        "sale": "1 unit of 1 variant, round robin over one product's variants",
        "api_poll_interval_ms": params.api_poll_ms, "db_poll_interval_ms": params.db_poll_ms,
        "api": "uvicorn, 2 workers, GET /products/{id}",
        "ingest": "python -m marketplace_core.pos.consumer, own group, temporary topics"})
    if skipped(result, kafka_reason()):
        return result
    fixture, token, secret = prepare(dsn, info)
    result.params["variants"] = len(fixture.variants)
    variant_ids = [v for v, _ in fixture.variants]
    with temporary_topics("bench.pos.sales", "bench.pos.heartbeats") as (sales_t, beats_t), \
            tempfile.TemporaryDirectory(prefix="bench-pos-") as tmp, \
            core_api(dsn) as base_url, ingest_process(dsn, sales_t, beats_t) as proc:
        cfg = DeviceConfig(device_id=fixture.device_id, shop_id=fixture.shop_id, token=token,
                           secret=secret, outbox_path=Path(tmp) / "till.sqlite")
        read_api, client = api_reader(base_url, fixture.product_id)
        read_db, db_conn = db_reader(dsn, variant_ids)
        api = Observer("api", read_api, params.api_poll_ms / 1000)
        db = Observer("db", read_db, params.db_poll_ms / 1000)
        try:
            with Terminal(cfg) as till:
                redirect_topics(till, {POS_SALES.name: sales_t, POS_HEARTBEATS.name: beats_t})
                till.heartbeat(firmware_version="bench")
                if not _wait_for(lambda: _heartbeat_seen(dsn, fixture.device_id), 180, 0.2):
                    raise RuntimeError("the ingest did not apply the heartbeat within 180 s;"
                                       " see logs/bench-pos-ingest.log")
                warm = _warm_up(dsn, till, fixture, params)
                print(f"    pipeline up; warm-up {warm:.0f} ms", flush=True)
                for i in range(params.runs):
                    if proc.poll() is not None:
                        raise RuntimeError(f"the ingest exited with {proc.returncode}")
                    run = _one_run(dsn, till, fixture, api, db, params, i)
                    result.runs.append(run)
                    print(f"    run {i + 1}/{params.runs}: " + _line(run), flush=True)
        finally:
            client.close()
            db_conn.close()
    _summarise(result)
    return result


def _warm_up(dsn: str, till: Terminal, fixture: Fixture, params: SaleToStockParams) -> float:
    """A few sales the first fetches and caches pay for; returns how long they took (ms)."""
    variant_ids = [v for v, _ in fixture.variants]
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = sum(_stock(conn, variant_ids).values())
        started = time.perf_counter()
        _sell(till, fixture, params.warmup_sales, params.rate)
        _wait_for(lambda: before - sum(_stock(conn, variant_ids).values())
                  >= params.warmup_sales, params.drain_seconds)
    return (time.perf_counter() - started) * 1000


def _line(run: dict[str, Any]) -> str:
    a, d, t = run["api_ms"], run["db_ms"], run["terminal_ack_ms"]
    return (f"{run['sales']} sales at {run['rate']:.0f}/s ({run['missing']} missing,"
            f" {run['dead_letters']} dead letters); API p50 {a['p50']:.0f} p99 {a['p99']:.0f}"
            f" max {a['max']:.0f} ms; DB p50 {d['p50']:.0f} p99 {d['p99']:.0f} ms;"
            f" terminal ack p99 {t['p99']:.0f} ms")


def _summarise(result: Result) -> None:
    runs = result.runs
    result.median = {
        "p50_ms": median_of(runs, "api_ms.p50"), "p90_ms": median_of(runs, "api_ms.p90"),
        "p99_ms": median_of(runs, "api_ms.p99"), "max_ms": median_of(runs, "api_ms.max"),
        "missing": median_of(runs, "missing"),
    }
    result.baseline_median = {
        "db_p50_ms": median_of(runs, "db_ms.p50"), "db_p99_ms": median_of(runs, "db_ms.p99"),
        "db_max_ms": median_of(runs, "db_ms.max"),
        "terminal_ack_p50_ms": median_of(runs, "terminal_ack_ms.p50"),
        "terminal_ack_p99_ms": median_of(runs, "terminal_ack_ms.p99"),
    }
    m, b = result.median, result.baseline_median
    result.ratio = {
        "api_p99_over_db_p99": ratio(m["p99_ms"], b["db_p99_ms"]),
        "api_p50_over_db_p50": ratio(m["p50_ms"], b["db_p50_ms"]),
    }
    everything = bool(runs) and all(r["missing"] == 0 and r["dead_letters"] == 0
                                    and r["stock_moved"] == r["sales"] for r in runs)
    result.targets = {
        "p99_ms": target(m["p99_ms"], below=1000),
        "spec_p99_ms": target(m["p99_ms"], below=5000),
        "every_sale_applied_once": {"value": everything, "equals": True, "met": everything},
    }
    result.targets["met"] = all_met(result.targets)
