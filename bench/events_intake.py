"""Behavioural event intake: POST /events from ONE API process into Kafka, against a bare
confluent-kafka produce of the same encoded bytes.

One run:

* `api` — the real core API (`uvicorn marketplace_core.api.main:app --workers 1`, real
  HTTP, the Go load generator with `-bodies`: each batch POSTed once, `clients` concurrent
  connections) takes N guest events (a seeded mix of views, clicks, searches, routes,
  saves... on a few thousand targets; every event unique, so each one is checked, claimed
  in Postgres, encoded and acknowledged by Kafka) in batches of `batch` events.
  events/s = accepted events / (first request sent .. last 202 received). Every answer
  must be 202 with every event accepted, and the topic must have grown by exactly N.
* `in_process` — the same intake (`EventIntake.handle`: parse, rules, Postgres claim,
  encode, produce, wait for acks) called by `clients` threads in this process, no HTTP:
  how much of the API's time is the HTTP layer (uvicorn, FastAPI, thread hops).
* `baseline` — a confluent-kafka Producer with the intake's own settings
  (`behaviour.kafka.producer_config`: idempotent, acks=all, lz4, same linger) produces
  the SAME records, already encoded (the same Avro bytes and Confluent header, made
  in-process with the intake's own rules and encoder, untimed), same keys: events/s from
  the first produce to the last delivery report. The ceiling on this machine.

Both write to temporary topics (6 partitions like analytics.raw, deleted afterwards; the
API is pointed at them with EVENTS_RAW_TOPIC/EVENTS_BAD_TOPIC) so the lake never sees
bench traffic. Figures: the median of `runs` runs and the ratio api/baseline. Targets:
>= 20,000 events/s and >= 0.3x the bare produce.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from bench.kafka_tools import kafka_reason, temporary_topics
from bench.loadgen import build_loadgen, core_api
from bench.pos_producer import topic_size
from bench.results import RESULTS_DIR, Result, all_met, median_of, ratio, target
from infra.settings import get_settings
from marketplace_core.behaviour.intake import EventIntake, prepare
from marketplace_core.behaviour.kafka import Encoder, producer_config, schema_header
from marketplace_core.behaviour.rules import Rules
from marketplace_core.db import open_pool
from schemas.registry import registry_client
from schemas.topics import ANALYTICS_RAW

NAME = "events_intake"
MIX = (("view", 40), ("click", 20), ("post_impression", 15), ("search", 8), ("save", 5),
       ("add_to_cart", 4), ("share", 3), ("route_built", 2), ("chat_started", 2),
       ("call_click", 1))
TARGET_OF = {"view": "product", "click": "shop", "post_impression": "post",
             "save": "product", "add_to_cart": "product", "share": "post",
             "route_built": "shop", "chat_started": "shop", "call_click": "shop"}
QUERIES = ("калпак", "смартфон samsung", "тоо балы", "кроссовки", "ковер", "чапан", "iphone 15",
           "детская одежда", "шырдак", "кумыс")


@dataclass(frozen=True)
class IntakeParams:
    runs: int = 3
    events: int = 200_000
    batch: int = 200
    clients: int = 4
    seed: int = 20_261_202


def make_events(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """N unique guest events over ~n/20 sessions, times within the last hour."""
    targets = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(3000)]
    kinds = [k for k, w in MIX for _ in range(w)]
    now = datetime.now(UTC)
    sessions = [(f"s-{rng.getrandbits(48):012x}", f"a-{rng.getrandbits(64):016x}",
                 rng.choice(("ios", "android", "web"))) for _ in range(max(n // 20, 1))]
    out = []
    for i in range(n):
        kind = rng.choice(kinds)
        session, anon, platform = rng.choice(sessions)
        e: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "event_type": kind,
            "occurred_at": (now - timedelta(milliseconds=rng.randrange(3_600_000))).isoformat(),
            "session_id": session, "anonymous_id": anon, "platform": platform,
            "app_version": "3.2.0", "surface": "search" if kind == "search" else
            rng.choice(("feed", "map", "explore", "following")),
            "position": i % 48,
        }
        if kind == "search":
            e["search_query"] = rng.choice(QUERIES)
        else:
            e["target_type"], e["target_id"] = TARGET_OF[kind], rng.choice(targets)
        if kind == "route_built":
            e["lat"], e["lon"] = round(42.80 + rng.random() * 0.12, 6), round(
                74.50 + rng.random() * 0.2, 6)
        if rng.random() < 0.2:
            e["utm_source"], e["utm_medium"] = "instagram", "social"
        out.append(e)
    return out


def _api_run(base: str, events: list[dict[str, Any]], p: IntakeParams, topic: str
             ) -> dict[str, Any]:
    before = topic_size(topic)
    with tempfile.NamedTemporaryFile("wb", suffix=".bodies", delete=False) as f:
        for i in range(0, len(events), p.batch):
            f.write(orjson.dumps({"events": events[i:i + p.batch]}) + b"\n")
        bodies = f.name
    with tempfile.NamedTemporaryFile("w", suffix=".urls", delete=False) as f:
        f.write(f"{base}/events\n")
        urls = f.name
    try:
        done = subprocess.run(
            [str(build_loadgen()), "-targets", urls, "-bodies", bodies,
             "-workers", str(p.clients), "-timeout", "60s"],
            check=True, capture_output=True, text=True, timeout=900)
    finally:
        os.unlink(bodies)
        os.unlink(urls)
    summary = orjson.loads(done.stdout)
    grew = topic_size(topic) - before
    requests = len(range(0, len(events), p.batch))
    ok = summary["status"].get("202", 0) == requests and grew == len(events)
    return {"events": len(events), "requests": requests, "status": summary["status"],
            "errors": summary["errors"], "seconds": round(summary["duration_s"], 3),
            "events_per_s": round(grew / summary["duration_s"], 1) if ok else None,
            "topic_grew": grew, "batch_latency_ms": summary["latency_ms"],
            "all_accepted": ok}


def _in_process_run(dsn: str, events: list[dict[str, Any]], p: IntakeParams, raw: str,
                    bad: str) -> dict[str, Any]:
    bodies = [orjson.dumps({"events": events[i:i + p.batch]})
              for i in range(0, len(events), p.batch)]
    intake = EventIntake(raw_topic=raw, bad_topic=bad)
    pool = open_pool(dsn, min_size=p.clients, max_size=p.clients, name="bench-intake")
    pending = iter(bodies)
    lock = threading.Lock()
    accepted = [0]

    def work() -> None:
        while True:
            with lock:
                body = next(pending, None)
            if body is None:
                return
            answer = orjson.loads(intake.handle(pool, body, None))
            with lock:
                accepted[0] += answer["accepted"]

    try:
        intake.handle(pool, orjson.dumps({"events": []}), None)
        intake.encoders()
        intake.sender()
        threads = [threading.Thread(target=work) for _ in range(p.clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
    finally:
        intake.close()
        pool.close()
    ok = accepted[0] == len(events)
    return {"events": len(events), "seconds": round(seconds, 3),
            "events_per_s": round(len(events) / seconds, 1) if ok else None}


def _encoded(events: list[dict[str, Any]], header: bytes) -> list[tuple[bytes, bytes]]:
    """The records the intake produces for these events (its rules, its encoder)."""
    encode = Encoder(ANALYTICS_RAW, header)
    prepared = prepare(events, received_ms=time.time_ns() // 1_000_000,
                       rules=Rules.from_settings(), user_pseudo_id=None)
    assert not prepared.bad
    return [(r["session_id"].encode(), encode(r)) for _, r in prepared.good]


def _baseline_run(records: list[tuple[bytes, bytes]], topic: str) -> dict[str, Any]:
    s = get_settings()
    producer = Producer(producer_config(s.kafka_bootstrap_servers,
                                        s.events_delivery_timeout_seconds, s.events_linger_ms))
    failed: list[Any] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(err)

    before = topic_size(topic)
    started = time.perf_counter()
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(120)
    seconds = time.perf_counter() - started
    grew = topic_size(topic) - before
    ok = not failed and grew == len(records)
    return {"events": len(records), "seconds": round(seconds, 3),
            "events_per_s": round(len(records) / seconds, 1) if ok else None,
            "topic_grew": grew, "failed": len(failed)}


def bench_events_intake(dsn: str, p: IntakeParams) -> Result:
    result = Result(NAME, params={"runs": p.runs, "events": p.events, "batch": p.batch,
                                  "clients": p.clients, "api_workers": 1, "seed": p.seed})
    reason = kafka_reason()
    if reason:
        result.notes.append(f"skipped: {reason}")
        return result
    header = schema_header(registry_client(), ANALYTICS_RAW)
    rng = random.Random(p.seed)
    with ExitStack() as stack:
        raw, bad = stack.enter_context(temporary_topics("bench.analytics.raw",
                                                        "bench.analytics.bad"))
        base = stack.enter_context(core_api(dsn, workers=1, env={
            "EVENTS_RAW_TOPIC": raw, "EVENTS_BAD_TOPIC": bad}))
        warm = make_events(rng, 2 * p.batch)
        _api_run(base, warm, IntakeParams(1, len(warm), p.batch, 1, p.seed), raw)
        for n in range(p.runs):
            events = make_events(rng, p.events)
            api = _api_run(base, events, p, raw)
            in_process = _in_process_run(dsn, make_events(rng, p.events), p, raw, bad)
            base_line = _baseline_run(_encoded(make_events(rng, p.events), header), raw)
            run = {"api": api, "in_process": in_process, "baseline": base_line,
                   "ratio": ratio(api["events_per_s"], base_line["events_per_s"])}
            result.runs.append(run)
            print(f"    run {n + 1}: API {api['events_per_s']} ev/s"
                  f" (p50 batch {api['batch_latency_ms']['p50']} ms) | in process"
                  f" {in_process['events_per_s']} ev/s | bare produce"
                  f" {base_line['events_per_s']} ev/s | x{run['ratio']}", flush=True)
    api_med = median_of(result.runs, "api.events_per_s")
    base_med = median_of(result.runs, "baseline.events_per_s")
    result.median = {"events_per_s": api_med,
                     "batch_latency_p50_ms": median_of(result.runs, "api.batch_latency_ms.p50"),
                     "batch_latency_p99_ms": median_of(result.runs, "api.batch_latency_ms.p99")}
    result.median["in_process_events_per_s"] = median_of(result.runs,
                                                        "in_process.events_per_s")
    result.baseline_median = {"events_per_s": base_med}
    result.ratio = {"api_over_bare_produce": ratio(api_med, base_med),
                    "median_of_run_ratios": round(statistics.median(
                        [r["ratio"] for r in result.runs if r["ratio"] is not None]), 3)
                    if any(r["ratio"] is not None for r in result.runs) else None}
    result.targets = {
        "events_per_s": target(api_med, at_least=20_000),
        "ratio_to_bare_produce": target(result.ratio["api_over_bare_produce"], at_least=0.3)}
    result.targets["met"] = all_met(result.targets)
    load = os.getloadavg()
    result.notes.append(f"load average at the end: {load[0]:.1f} on {os.cpu_count()} cores "
                        "(API, Postgres, Kafka and the load generator share them)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events_intake")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    from bench.catalog_data import bench_database

    with bench_database() as dsn:
        result = bench_events_intake(dsn, IntakeParams(args.runs, args.events, args.batch,
                                                       args.clients))
    print(f"    wrote {result.write(args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
