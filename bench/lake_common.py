"""Shared by the lake benchmarks (bench/lake_landing.py, lake_freshness.py, lake_marts.py).

* `lake_prefix()` — a lake of the benchmark's own: a unique `LAKE_PREFIX` (settings cache
  cleared), every object under it deleted on exit. The catalog derives every path from the
  prefix, so the landing, dbt and the readers all follow it; the real lake is never touched.
* `throwaway_receipts_table()` — a temporary Kafka topic (6 partitions, deleted on exit)
  declared as a lake table the way `pipelines/lake_catalog.py` declares the real ones (see
  tests/integration/test_lake_catalog.py), with the `core.pos_receipts` reader schema. Its
  records are framed with the id the platform registered for `core.pos_receipts`, so the
  landing resolves them exactly as it resolves the real topic's; no subject is registered.
* `receipt_record()` — a realistic applied till receipt (`core.pos_receipts`): sales with
  1-3 lines and occasional discounts, refunds, voids, cash movements.
* `spark()` — the one Spark session of a benchmark process, its JVM start-up timed.
* `run_in_subprocess()` — how `bench.run` runs a lake benchmark: each in its own process
  (one JVM and at most one chdb engine per process), its result files read back.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

from bench.results import RESULTS_DIR, Result
from infra.settings import REPO_ROOT, get_settings
from pipelines.lake_catalog import LakeTable
from platform_common.money import to_cents_half_even
from schemas.topics import CORE_POS_RECEIPTS, Topic, schema_str

PRICES = tuple(Decimal(p) for p in ("35.00", "45.00", "120.00", "180.50", "350.00", "899.50",
                                    "1250.00", "2400.00", "4990.00", "15900.00"))


def loadavg() -> list[float]:
    """The 1, 5 and 15-minute load averages (the machine is shared: record it per run)."""
    return [round(x, 2) for x in os.getloadavg()]


# --- a lake of the benchmark's own ---------------------------------------------------------


def delete_prefix(prefix: str) -> int:
    """Delete every object under `prefix/` in the lake bucket; returns how many."""
    from infra.services.minio import s3_client

    s3 = s3_client()
    bucket = get_settings().lake_bucket
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                             Prefix=prefix.rstrip("/") + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start:start + 1000]})
        deleted += len(keys)
    return deleted


@contextmanager
def env_vars(**values: str) -> Iterator[None]:
    """Set environment variables (settings read them) and restore them on exit."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()


@contextmanager
def lake_prefix(tag: str, *, keep: bool = False) -> Iterator[str]:
    """A unique LAKE_PREFIX `bench/<tag>-<random>` for the block; its objects are deleted
    afterwards (unless `keep`)."""
    prefix = f"bench/{tag}-{secrets.token_hex(4)}"
    try:
        with env_vars(LAKE_PREFIX=prefix):
            yield prefix
    finally:
        if not keep:
            try:
                delete_prefix(prefix)
            except Exception as exc:  # cleanup only: say so, do not hide the result
                print(f"    could not delete lake prefix {prefix}: {exc}", flush=True)


# --- a throwaway topic declared as a lake table --------------------------------------------


def receipts_table(topic_name: str) -> LakeTable:
    """A lake table for a temporary topic carrying `core.pos_receipts` records (the same
    dedup key, event time and schema as the catalog's core_pos_receipts)."""
    topic = Topic(name=topic_name, key="device_id", schema_file=CORE_POS_RECEIPTS.schema_file,
                  partitions=CORE_POS_RECEIPTS.partitions, retention_ms=3_600_000)
    return LakeTable(name=topic_name.replace(".", "_").replace("-", "_"), topic=topic,
                     event_time="event_time", description="bench throwaway")


@contextmanager
def throwaway_receipts_table(tag: str) -> Iterator[LakeTable]:
    from bench.kafka_tools import temporary_topics

    with temporary_topics(f"bench.lake.{tag}",
                          partitions=CORE_POS_RECEIPTS.partitions) as (name,):
        yield receipts_table(name)


def receipts_schema_id() -> int:
    """The registry id of this build's `core.pos_receipts` schema (never registers)."""
    from pos_producer import wire
    from schemas.registry import registry_client

    return wire.registered_schema_id(registry_client(), CORE_POS_RECEIPTS)


@cache
def _parsed_receipt_schema() -> Any:
    import fastavro

    return fastavro.parse_schema(json.loads(schema_str(CORE_POS_RECEIPTS)))


def frame(schema_id: int, record: dict[str, Any]) -> bytes:
    """Confluent framing (magic 0, 4-byte id) + schemaless Avro body of a receipt."""
    import fastavro

    out = io.BytesIO()
    out.write(b"\x00" + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(out, _parsed_receipt_schema(), record)
    return out.getvalue()


# --- realistic applied till receipts -------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    shop_id: str
    merchant_id: str
    device_id: str
    variants: tuple[tuple[str, str, Decimal], ...]  # (variant_id, product_id, unit price)


def shops(rng: random.Random, n: int = 200, variants: int = 60) -> list[Shop]:
    """`n` shops (one terminal each, 40 merchants), each selling `variants` variants."""
    def uid() -> str:
        return str(UUID(int=rng.getrandbits(128), version=4))

    merchants = [uid() for _ in range(40)]
    out = []
    for s in range(n):
        products = [uid() for _ in range(variants // 3 + 1)]
        out.append(Shop(uid(), merchants[s % len(merchants)], f"POS-9{s:06d}",
                        tuple((uid(), products[v // 3], rng.choice(PRICES))
                              for v in range(variants))))
    return out


class ReceiptStream:
    """Applied receipts of a marketplace of terminals, as the core writes them: per
    device a numbered sequence of 85% sales (1-3 lines, one in ten with a 5% discount),
    5% refunds and 5% voids of the device's previous sale, 5% cash in/out and standalone
    discounts."""

    def __init__(self, rng: random.Random, shop_list: Sequence[Shop]) -> None:
        self.rng = rng
        self.shops = list(shop_list)
        self.seq = [0] * len(self.shops)
        self.last_sale: list[dict[str, Any] | None] = [None] * len(self.shops)
        self.receipt_id = 0

    def next(self, event_time: datetime) -> dict[str, Any]:
        rng = self.rng
        s = rng.randrange(len(self.shops))
        shop = self.shops[s]
        self.seq[s] += 1
        self.receipt_id += 1
        n = self.seq[s]
        roll = rng.random()
        previous = self.last_sale[s]
        zero = Decimal("0.00")
        rec: dict[str, Any] = {
            "event_id": str(UUID(int=rng.getrandbits(128), version=4)),
            "event_type": "pos_receipt.applied",
            "occurred_at": event_time + timedelta(milliseconds=300),
            "receipt_id": 9_000_000_000 + self.receipt_id,
            "device_id": shop.device_id, "shop_id": shop.shop_id,
            "merchant_id": shop.merchant_id,
            "receipt_number": f"{shop.device_id}-{n}",
            "sale_id": str(UUID(int=rng.getrandbits(128), version=4)),
            "sequence_number": n, "out_of_order": False, "original_receipt_number": None,
            "items": [], "gross_amount": zero, "discount_amount": zero, "total": None,
            "cash_amount": None, "voided_event_type": None, "voided_gross_amount": None,
            "voided_discount_amount": None, "net_amount": zero,
            "event_time": event_time, "received_at": event_time + timedelta(milliseconds=150),
            "source": "kafka",
        }
        if previous is not None and roll < 0.05:
            rec |= {"till_event_type": "refund", "items": previous["items"],
                    "gross_amount": previous["gross_amount"],
                    "discount_amount": previous["discount_amount"],
                    "total": previous["total"],
                    "original_receipt_number": previous["receipt_number"],
                    "net_amount": previous["discount_amount"] - previous["gross_amount"]}
            self.last_sale[s] = None
        elif previous is not None and roll < 0.10:
            rec |= {"till_event_type": "void", "voided_event_type": "sale",
                    "original_receipt_number": previous["receipt_number"],
                    "voided_gross_amount": previous["gross_amount"],
                    "voided_discount_amount": previous["discount_amount"],
                    "net_amount": previous["discount_amount"] - previous["gross_amount"]}
            self.last_sale[s] = None
        elif roll < 0.15:
            kind = rng.choice(("cash_in", "cash_out", "discount"))
            amount = to_cents_half_even(Decimal(rng.choice((50, 100, 500, 1000))))
            if kind == "discount":
                rec |= {"till_event_type": kind, "discount_amount": amount, "total": -amount,
                        "net_amount": -amount}
            else:
                rec |= {"till_event_type": kind, "cash_amount": amount}
        else:
            items: list[dict[str, Any]] = []
            gross = zero
            for line_no in range(1, rng.randint(1, 3) + 1):
                variant_id, product_id, price = rng.choice(shop.variants)
                qty = rng.randint(1, 3)
                items.append({"line_no": line_no, "variant_id": variant_id,
                              "product_id": product_id, "qty": qty, "unit_price": price,
                              "line_amount": price * qty})
                gross += price * qty
            discount = to_cents_half_even(gross * Decimal("0.05")) \
                if rng.random() < 0.1 else zero
            rec |= {"till_event_type": "sale", "items": items, "gross_amount": gross,
                    "discount_amount": discount, "total": gross - discount,
                    "net_amount": gross - discount}
            self.last_sale[s] = rec
        return rec


# --- Spark ---------------------------------------------------------------------------------


def spark(app: str) -> tuple[Any, float]:
    """The benchmark process's Spark session and the seconds its JVM took to start."""
    from pipelines.spark_session import build_session

    started = time.perf_counter()
    session = build_session(app)
    return session, round(time.perf_counter() - started, 1)


@contextmanager
def landing_phases() -> Iterator[dict[str, float]]:
    """Seconds spent in the landing's bronze append, silver MERGE and current-state MERGE
    (summed over batches), by wrapping those functions of `pipelines.landing` for the
    block: measurement only, the landing's behaviour is unchanged. The rest of a batch is
    reading Kafka, grouping by schema id and decoding/deduplicating silver rows."""
    import threading

    import pipelines.landing as landing

    totals = {"bronze": 0.0, "silver_merge": 0.0, "current": 0.0}
    lock = threading.Lock()
    originals: dict[str, Any] = {}

    def wrap(attr: str, key: str) -> None:
        original = originals[attr] = getattr(landing, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with lock:
                    totals[key] += time.perf_counter() - started

        setattr(landing, attr, timed)

    wrap("append_bronze", "bronze")
    wrap("merge_silver", "silver_merge")
    wrap("merge_current", "current")
    try:
        yield totals
    finally:
        for attr, original in originals.items():
            setattr(landing, attr, original)


# "  <table> batch <id>: <n> record(s), <m> undecodable, in <s>s" (pipelines.landing)
BATCH_LINE = re.compile(r"batch (\d+): (\d+) record\(s\), (\d+) undecodable, in ([\d.]+)s")


def batch_seconds(lines: Sequence[str]) -> list[float]:
    """Seconds of each finished batch in the landing's log lines."""
    return [float(m[4]) for m in map(BATCH_LINE.search, lines) if m]


def delta_count(session: Any, relative: str) -> int:
    from pipelines.landing import uri

    return int(session.read.format("delta").load(uri(relative)).count())


# --- run from bench.run ---------------------------------------------------------------------


def load_result(path: Path) -> Result:
    data = json.loads(path.read_text(encoding="utf-8"))
    result = Result(data["name"], data.get("params", {}))
    for key in ("started_at", "runs", "median", "baseline_median", "ratio", "targets",
                "notes", "machine", "extra"):
        if key in data:
            setattr(result, key, data[key])
    return result


_JVM_LOG = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \[|^\s+at |^\s+\.\.\. \d+ more|^SLF4J|"
                      r"^WARNING: |^Caused by: |^[a-z]+(\.[a-z]+)+\.\w*(Exception|Error)")


def run_in_subprocess(module: str, args: Sequence[str], names: Sequence[str],
                      results_dir: Path = RESULTS_DIR, timeout: float = 4 * 3600
                      ) -> list[Result]:
    """`python -m <module> <args> --results-dir <dir>` in its own process (its own JVM and
    chdb engine); returns the results it wrote, or a `skipped` result per name."""
    argv = [sys.executable, "-u", "-m", module, *args, "--results-dir", str(results_dir)]
    log = get_settings().logs_dir / f"bench-{module.rsplit('.', 1)[-1]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"    ({module} in its own process; Spark's stderr in {log})", flush=True)
    started = time.time()
    with open(log, "ab") as err:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        for raw in proc.stdout:  # the JVM logs to stdout too: keep those lines in the log
            line = raw.decode(errors="replace")
            if _JVM_LOG.match(line):
                err.write(raw)
            else:
                print(line, end="", flush=True)
            if time.time() - started > timeout:
                proc.kill()
        code = proc.wait()
    failure = None if code == 0 else f"{module} exited with {code} (see {log})"
    out: list[Result] = []
    for name in names:
        path = results_dir / f"{name}.json"
        if path.exists() and path.stat().st_mtime >= started:
            out.append(load_result(path))
        else:
            r = Result(name, {})
            r.notes.append(f"skipped: {failure or 'no result written'}")
            r.targets = {"met": False}
            out.append(r)
    return out
