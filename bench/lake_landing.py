"""Lake landing throughput: events/s from Kafka into Delta (bronze + silver MERGE).

    python -m bench.lake_landing [--quick] [--events N] [--runs N]
                                 [--max-offsets-per-trigger M] [--sweep 50000,200000,500000]

N applied till receipts (`core.pos_receipts` records: 85% sales with 1-3 lines, refunds,
voids, cash, discounts; ~400-byte Avro values framed with the registered schema id; keyed
by device, 200 terminals) are produced once to a temporary topic with 6 partitions,
declared as a throwaway lake table (bench/lake_common.py). Then, per run:

* `bare_raw` — a confluent-kafka Consumer assigned to every partition from the beginning
  reads all N records (no decoding): the floor Kafka sets on this machine.
* `bare_decode` — the same, Avro-decoding every value with fastavro (schemaless, writer
  schema looked up by the id in its header): a plain Python consumer that decodes.
* `landing` — `pipelines.landing.land_available(spark, tables=[t],
  max_offsets_per_trigger=M)` into a fresh LAKE_PREFIX: the production code path (bronze
  append with the idempotent writer, per-batch decode by schema id, silver MERGE on the
  dedup key); events/s = N / its wall time. The Spark session (JVM start-up, measured
  apart as `jvm_start_seconds`) is built once per process; the empty Delta tables are
  created before the clock starts (`create_tables_seconds`). Bronze and silver are counted
  afterwards: each must hold exactly N. `phase_seconds` splits the batches' time: bronze
  append, silver MERGE, current-state MERGE (timed by wrapping those functions of
  `pipelines.landing`, bench/lake_common.py `landing_phases`), and the rest (reading
  Kafka, grouping by schema id, decoding and deduplicating the silver rows).

Before the counted runs, one landing of the same topic is not counted (`extra.cold_landing`):
the first Delta/S3A work of a JVM pays class loading and JIT warm-up, as a fresh `make land`
process does. `--sweep` lands once more per listed max_offsets_per_trigger (exploration,
in `extra.max_offsets_sweep`).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import secrets
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.lake_common import (
    ReceiptStream,
    batch_seconds,
    delta_count,
    frame,
    lake_prefix,
    landing_phases,
    loadavg,
    receipts_schema_id,
    shops,
    spark,
    throwaway_receipts_table,
)
from bench.results import RESULTS_DIR, Result, median_of, ratio, target
from infra.settings import get_settings
from pipelines.lake_catalog import LakeTable

NAME = "lake_landing_throughput"
# Chosen with --sweep (bench/README.md, "Lake figures"): the best of 50k/200k/500k here.
DEFAULT_MAX_OFFSETS = 500_000
GOAL_EVENTS_PER_S = 50_000.0


@dataclass(frozen=True)
class LandingParams:
    runs: int = 3
    events: int = 200_000
    max_offsets: int = DEFAULT_MAX_OFFSETS
    sweep: tuple[int, ...] = ()
    seed: int = 20_240_602


# --- producing the records -----------------------------------------------------------------


def produce(topic: str, n: int, seed: int) -> dict[str, Any]:
    """N framed receipts into `topic`: mostly the last two hours, 3% up to 3 days late (a
    terminal's offline backlog). Returns what was sent."""
    from confluent_kafka import Producer

    rng = random.Random(seed)
    stream = ReceiptStream(rng, shops(rng))
    sid = receipts_schema_id()
    now = datetime.now(UTC).replace(microsecond=0)
    producer = Producer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "linger.ms": 20, "compression.type": "zstd", "acks": "all",
                         "enable.idempotence": True, "batch.size": 1_000_000})
    started = time.perf_counter()
    total_bytes = 0
    for _ in range(n):
        late = rng.random() < 0.03
        at = now - timedelta(seconds=rng.uniform(0, 3 * 86400 if late else 7200))
        rec = stream.next(at)
        value = frame(sid, rec)
        total_bytes += len(value)
        while True:
            try:
                producer.produce(topic, key=rec["device_id"].encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(120)
    seconds = time.perf_counter() - started
    if left:
        raise RuntimeError(f"{left} record(s) not delivered to {topic}")
    return {"events": n, "schema_id": sid, "value_bytes_mean": round(total_bytes / n, 1),
            "produce_seconds": round(seconds, 2)}


# --- the baselines: a bare consumer ----------------------------------------------------------


def bare_consume(topic: str, n: int, *, decode: bool, timeout: float = 600.0
                 ) -> dict[str, Any]:
    """Read every record of `topic` from the beginning with a plain confluent-kafka
    Consumer (and Avro-decode each with fastavro when `decode`)."""
    import fastavro
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from pipelines.landing import WriterSchemas

    writer_schemas = WriterSchemas()
    parsed: dict[int, Any] = {}
    consumer = Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "group.id": f"bench-lake-bare-{secrets.token_hex(4)}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        started = time.perf_counter()
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        seen = errors = 0
        deadline = started + timeout
        while seen < n and time.perf_counter() < deadline:
            for msg in consumer.consume(10_000, timeout=1.0):
                if msg.error() is not None:
                    errors += 1
                    continue
                seen += 1
                if decode:
                    value = msg.value() or b""
                    sid = int.from_bytes(value[1:5], "big")
                    schema = parsed.get(sid)
                    if schema is None:
                        schema = parsed[sid] = fastavro.parse_schema(
                            json.loads(writer_schemas.get(sid) or "null"))
                    fastavro.schemaless_reader(io.BytesIO(value[5:]), schema, None)
        seconds = time.perf_counter() - started
    finally:
        consumer.close()
    return {"seconds": round(seconds, 3), "events": seen, "errors": errors,
            "events_per_s": round(seen / seconds, 1)}


# --- the landing ------------------------------------------------------------------------------

def land_once(session: Any, table: LakeTable, n: int, max_offsets: int) -> dict[str, Any]:
    """`land_available` of the whole topic into a fresh lake prefix, timed; then the
    bronze and silver row counts."""
    from pipelines.landing import ensure_tables, land_available

    lines: list[str] = []
    load_before = loadavg()
    with lake_prefix("landing"):
        t0 = time.perf_counter()
        ensure_tables(session, [table])
        created = time.perf_counter() - t0
        with landing_phases() as phases:
            started = time.perf_counter()
            res = land_available(session, tables=[table], log=lines.append,
                                 max_offsets_per_trigger=max_offsets)
            seconds = time.perf_counter() - started
        load_after = loadavg()
        bronze = delta_count(session, table.bronze_path)
        silver = delta_count(session, table.silver_path)
    batches = batch_seconds(lines)
    phase = {k: round(v, 2) for k, v in phases.items()}
    phase["read_decode_other"] = round(sum(batches) - sum(phases.values()), 2)
    return {
        "max_offsets_per_trigger": max_offsets, "seconds": round(seconds, 2),
        "events_per_s": round(res.records / seconds, 1), "records": res.records,
        "batches": len(batches), "create_tables_seconds": round(created, 2),
        "batch_seconds_total": round(sum(batches), 2),
        "phase_seconds": phase, "bronze_rows": bronze, "silver_rows": silver,
        "exact": bronze == n and silver == n and res.records == n,
        "load_before": load_before, "load_after": load_after,
    }


def bench_lake_landing(params: LandingParams) -> Result:
    result = Result(NAME, {
        "runs": params.runs, "events": params.events,
        "max_offsets_per_trigger": params.max_offsets, "sweep": list(params.sweep),
        "seed": params.seed,
        "event": "core.pos_receipts applied receipt (85% sales, 1-3 lines), Avro, framed "
                 "with the registered schema id, key = device (200 terminals)",
        "topic": "temporary, 6 partitions; lake table declared like the catalog's "
                 "core_pos_receipts (dedup event_id, no current-state table)",
        "spark": f"{get_settings().spark_master}, driver memory "
                 f"{get_settings().spark_driver_memory}",
    })
    from bench.kafka_tools import kafka_reason, skipped

    if skipped(result, kafka_reason()):
        return result
    with throwaway_receipts_table("landing") as table:
        topic = table.topic.name
        sent = produce(topic, params.events, params.seed)
        result.params |= {k: sent[k] for k in ("schema_id", "value_bytes_mean")}
        print(f"    produced {params.events} receipts to {topic} in "
              f"{sent['produce_seconds']}s", flush=True)
        session, jvm = spark("bench_lake_landing")
        result.params["jvm_start_seconds"] = jvm
        print(f"    Spark session up in {jvm}s", flush=True)
        try:
            # The first Delta and S3A work of a JVM pays class loading and JIT warm-up (a
            # cold landing, as a fresh `make land` process sees it): one landing that is
            # not counted, reported as `cold_landing`.
            cold = land_once(session, table, params.events, params.max_offsets)
            result.extra["cold_landing"] = cold
            print(f"    cold landing (not counted): {cold['events_per_s']:.0f} ev/s in "
                  f"{cold['seconds']}s (+{cold['create_tables_seconds']}s creating tables)",
                  flush=True)
            for i in range(params.runs):
                run: dict[str, Any] = {"run": i + 1, "load_before": loadavg()}
                run["bare_raw"] = bare_consume(topic, params.events, decode=False)
                run["bare_decode"] = bare_consume(topic, params.events, decode=True)
                run["landing"] = land_once(session, table, params.events, params.max_offsets)
                run["load_after"] = loadavg()
                result.runs.append(run)
                print(f"    run {i + 1}/{params.runs}: " + _line(run), flush=True)
            sweep = []
            for value in params.sweep:
                one = land_once(session, table, params.events, value)
                sweep.append(one)
                print(f"    sweep max_offsets_per_trigger={value}: {one['events_per_s']:.0f}"
                      f" ev/s in {one['seconds']}s, {one['batches']} batch(es)", flush=True)
            if sweep:
                result.extra["max_offsets_sweep"] = sweep
        finally:
            session.stop()
    _summarise(result)
    return result


def _line(run: dict[str, Any]) -> str:
    land, raw, dec = run["landing"], run["bare_raw"], run["bare_decode"]
    return (f"landing {land['events_per_s']:.0f} ev/s ({land['seconds']}s, "
            f"{land['batches']} batch(es), exact={land['exact']}); bare consume "
            f"{raw['events_per_s']:.0f}/s, with Avro decode {dec['events_per_s']:.0f}/s; "
            f"load {run['load_before'][0]}")


def _summarise(result: Result) -> None:
    runs = result.runs
    result.median = {
        "events_per_s": median_of(runs, "landing.events_per_s"),
        "seconds": median_of(runs, "landing.seconds"),
        "batches": median_of(runs, "landing.batches"),
        "create_tables_seconds": median_of(runs, "landing.create_tables_seconds"),
        "phase_seconds": {k: median_of(runs, f"landing.phase_seconds.{k}")
                          for k in ("bronze", "silver_merge", "current",
                                    "read_decode_other")},
    }
    result.baseline_median = {
        "bare_decode_events_per_s": median_of(runs, "bare_decode.events_per_s"),
        "bare_raw_events_per_s": median_of(runs, "bare_raw.events_per_s"),
        "bare_decode_seconds": median_of(runs, "bare_decode.seconds"),
        "bare_raw_seconds": median_of(runs, "bare_raw.seconds"),
    }
    m, b = result.median, result.baseline_median
    result.ratio = {
        "landing_over_bare_decode": ratio(m["events_per_s"], b["bare_decode_events_per_s"]),
        "landing_over_bare_raw": ratio(m["events_per_s"], b["bare_raw_events_per_s"]),
    }
    exact = bool(runs) and all(r["landing"]["exact"] for r in runs)
    result.targets = {
        "events_per_s": target(m["events_per_s"], at_least=GOAL_EVENTS_PER_S),
        "every_event_landed_once": {"value": exact, "equals": True, "met": exact},
    }
    result.targets["met"] = all(t["met"] for t in result.targets.values())
    loads = [r["load_before"][0] for r in runs]
    if loads:
        result.notes.append(f"1-minute load average before the runs: {loads} (2 cores, "
                            f"shared machine); median {statistics.median(loads)}")
    result.notes.append("the landing's time includes the query start, the per-batch "
                        "registry lookup and every Delta commit; not the JVM start-up "
                        "(params.jvm_start_seconds) nor the empty tables' creation")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lake_landing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 events, 1 run")
    parser.add_argument("--events", type=int, default=None, help="default 200,000")
    parser.add_argument("--runs", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--max-offsets-per-trigger", type=int, default=DEFAULT_MAX_OFFSETS)
    parser.add_argument("--sweep", default="",
                        help="comma-separated max_offsets_per_trigger values, one run each")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    params = LandingParams(
        runs=args.runs or (1 if args.quick else 3),
        events=args.events or (20_000 if args.quick else 200_000),
        max_offsets=args.max_offsets_per_trigger,
        sweep=tuple(int(v) for v in args.sweep.split(",") if v.strip()))
    result = bench_lake_landing(params)
    result.params["quick"] = args.quick
    print(f"    wrote {result.write(args.results_dir)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
