"""Outbox publish lag: from an order's commit to its first event arriving from Kafka.

Setup: every shop's POS terminal sends a heartbeat through `pos.service.record_heartbeat`
(so the shops are `online_purchase` by the eligibility service's own rules), and the real
relay runs as its own process (`python -m marketplace_core.outbox.relay --dsn ...`).

One run: `processes` x `threads` drivers, each with its own connection, place orders with
`orders.service.place_order` (stock reservation + order row + outbox events, one
transaction) at a fixed total rate for `seconds`, recording the wall-clock time at which
each commit returned. A Kafka consumer in this process, assigned to every partition of
`core.orders` from the end offsets taken before the first run, records when each order's
first event arrives. lag = received - committed (same machine, same clock).

Baselines measured in the same run:
* `relay_ack` — the relay's own view: `published_at - occurred_at` of the same orders'
  outbox rows (broker ack time minus row insert time);
* `kafka_roundtrip` — a bare confluent-kafka produce -> consume at the same message rate
  on a temporary topic with the same producer settings as the relay: the floor that
  Kafka itself sets on this machine.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.catalog_data import CatalogInfo
from bench.kafka_tools import kafka_worker, skipped
from bench.results import Result, all_met, latency_summary, median_of, ratio, target
from infra.settings import REPO_ROOT, get_settings
from schemas.topics import CORE_ORDERS

DELIVERY_ADDRESS = "г. Бишкек, ул. Киевская, 77, кв. 5"


@dataclass(frozen=True)
class OutboxParams:
    runs: int
    seconds: float
    rate: float
    processes: int = 4
    threads: int = 4
    sustained_runs: int = 3  # runs at the lower rate when `rate` is not sustained
    drain_seconds: float = 30.0
    # Another checkout of the project (`baseline_tree`) placing the same orders in the
    # same runs, interleaved: the before/after of a change on one machine state.
    baseline: Path | None = None


@dataclass(frozen=True)
class Arm:
    """Whose code places the orders and relays them: this checkout (`code_dir` None) or
    another one; `notify_trigger` restores the outbox NOTIFY trigger that code relied on
    (dropped by migration 0025) for its runs."""

    name: str
    code_dir: Path | None = None
    notify_trigger: bool = False


_CODE_PACKAGES = ("marketplace_core", "infra", "schemas", "platform_common")


def _use_code(code_dir: str | None) -> None:
    """Process-pool initializer: import the application from `code_dir` instead."""
    if code_dir is None:
        return
    sys.path.insert(0, code_dir)
    for name in list(sys.modules):
        if name.split(".")[0] in _CODE_PACKAGES:
            del sys.modules[name]


def baseline_tree(rev: str) -> Path:
    """A detached git worktree of `rev` under the bench's working directory (reused)."""
    target = get_settings().local_dir / "bench" / f"baseline-{rev}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach",
                        str(target), rev], check=True, capture_output=True)
    return target


_NOTIFY_TRIGGER_SQL = """
create or replace function outbox_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('outbox', '');
    return null;
end $$;
create or replace trigger outbox_notify after insert on outbox
    for each statement execute function outbox_notify();
"""


def _set_notify_trigger(dsn: str, present: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if present:
            conn.execute(_NOTIFY_TRIGGER_SQL)
        else:
            conn.execute("drop trigger if exists outbox_notify on outbox")


# --- drivers (child processes) -------------------------------------------------------------


def _drive(dsn: str, variants: list[tuple[str, str]], buyers: list[str], rate: float,
           seconds: float, start_at: float, threads: int, seed: int) -> dict[str, Any]:
    """Place orders at `rate` per second from `threads` threads, from `start_at` (epoch
    seconds) for `seconds`. Returns commits [(order_id, committed_at, scheduled_at)] and
    error codes. Runs in a child process: it imports the service itself."""
    from marketplace_core.db import transaction
    from marketplace_core.errors import DomainError
    from marketplace_core.orders.service import OrderRequest, place_order

    commits: list[tuple[str, float, float]] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    interval = threads / rate  # each thread takes every `threads`-th slot

    def thread(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        mine: list[tuple[str, float, float]] = []
        bad: Counter[str] = Counter()
        with psycopg.connect(dsn) as conn:
            slot = 0
            while True:
                scheduled = start_at + index * interval / threads + slot * interval
                if scheduled >= start_at + seconds:
                    break
                slot += 1
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
                variant_id, shop_id = variants[rng.randrange(len(variants))]
                items = [(UUID(variant_id), 1)]
                request = OrderRequest.of(UUID(shop_id), items, "delivery",
                                          delivery_address=DELIVERY_ADDRESS)
                try:
                    with transaction(conn):
                        placed = place_order(conn, UUID(rng.choice(buyers)), request)
                except DomainError as exc:
                    bad[str(exc.code)] += 1
                    continue
                except psycopg.Error as exc:  # e.g. a deadlock: counted, not fatal
                    bad[type(exc).__name__] += 1
                    continue
                mine.append((str(placed.order.id), time.time(), scheduled))
        with lock:
            commits.extend(mine)
            errors.update(bad)

    pool = [threading.Thread(target=thread, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"commits": commits, "errors": dict(errors)}


# --- Kafka --------------------------------------------------------------------------------


class Receiver:
    """Consumes every partition of a topic from its end offsets (taken at start) in a
    thread, keeping the first receive time per message key."""

    def __init__(self, topic: str) -> None:
        s = get_settings()
        self.topic = topic
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = Consumer({
            "bootstrap.servers": s.kafka_bootstrap_servers,
            "group.id": f"bench-{secrets.token_hex(4)}", "enable.auto.commit": False,
            "fetch.wait.max.ms": 10, "fetch.min.bytes": 1,
            # an event counts as published when its relay transaction commits
            "isolation.level": "read_committed",
        })
        metadata = self._consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise RuntimeError(f"topic {topic}: {metadata.error}")
        assignment = []
        for partition in metadata.partitions:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           timeout=10)
            assignment.append(TopicPartition(topic, partition, high))
        self._consumer.assign(assignment)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(num_messages=500, timeout=0.05):
                received = time.time()
                if msg.error() is not None:
                    continue
                key = (msg.key() or b"").decode()
                self.first_seen.setdefault(key, received)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def kafka_roundtrip(rate: float, seconds: float, partitions: int) -> dict[str, Any]:
    """Bare produce -> consume at `rate` on a temporary topic, with the relay's producer
    settings; returns the lag summary."""
    s = get_settings()
    admin = AdminClient({"bootstrap.servers": s.kafka_bootstrap_servers})
    topic = f"bench.roundtrip.{secrets.token_hex(4)}"
    admin.create_topics([NewTopic(topic, num_partitions=partitions,
                                  replication_factor=1)])[topic].result(timeout=30)
    try:
        time.sleep(1.0)  # metadata propagation before assigning
        receiver = Receiver(topic)
        producer = Producer({
            "bootstrap.servers": s.kafka_bootstrap_servers, "enable.idempotence": True,
            "acks": "all", "linger.ms": 2, "compression.type": "zstd",
            "partitioner": "murmur2_random",
        })
        # warm-up: the consumer's first fetch (leader lookup, fetch session) is not lag
        for i in range(200):
            producer.produce(topic, key=f"warmup-{i}".encode(), value=b"")
            producer.flush(5)
            if _wait_for(lambda: bool(receiver.first_seen), 0.05):
                break
        receiver.first_seen.clear()
        sent: dict[str, float] = {}
        start = time.time()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            key = f"{i}-{secrets.token_hex(4)}"
            sent[key] = time.time()
            producer.produce(topic, key=key.encode(), value=os.urandom(300))
            producer.poll(0)
        producer.flush(30)
        _wait_for(lambda: all(k in receiver.first_seen for k in sent), 15)
        receiver.close()
        lags = [(receiver.first_seen[k] - t) * 1000 for k, t in sent.items()
                if k in receiver.first_seen]
        return {"messages": n, "received": len(lags), "lag_ms": latency_summary(lags)}
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)


def _wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# --- the relay process ----------------------------------------------------------------


@contextmanager
def relay_process(dsn: str, code_dir: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    env = None if code_dir is None else {**os.environ, "PYTHONPATH": str(code_dir)}
    with kafka_worker("marketplace_core.outbox.relay", ["--dsn", dsn],
                      "bench-outbox-relay.log", env=env, cwd=code_dir) as proc:
        yield proc


def _backlog(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select count(*) from outbox where published_at is null").fetchone()
    return int(row[0]) if row else 0


def kafka_available() -> str | None:
    """None if Kafka answers, else why not."""
    try:
        admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
        topics = admin.list_topics(timeout=5).topics
    except Exception as exc:  # any client failure means: not available
        return f"Kafka not reachable: {exc}"
    if CORE_ORDERS.name not in topics:
        return f"topic {CORE_ORDERS.name} does not exist (run `python -m infra up --no-apps`)"
    return None


def make_shops_online(dsn: str, info: CatalogInfo) -> int:
    """A heartbeat from every shop's terminal (the POS service refreshes eligibility);
    returns how many shops can now sell online."""
    from marketplace_core.db import transaction
    from marketplace_core.orders.eligibility import eligibility_of_shops
    from marketplace_core.pos.service import record_heartbeat

    with transaction(dsn) as conn:
        for device_id in info.device_ids:
            record_heartbeat(conn, device_id)
        states = eligibility_of_shops(conn, info.shop_ids)
    return sum(1 for s in states if s.can_buy_online)


# --- the benchmark ------------------------------------------------------------------------


def _one_run(dsn: str, executor: ProcessPoolExecutor, receiver: Receiver, rate: float,
             params: OutboxParams, variants: list[tuple[str, str]], buyers: list[str],
             run_no: int) -> dict[str, Any]:
    start_at = time.time() + 1.0
    futures = [executor.submit(_drive, dsn, variants, buyers, rate / params.processes,
                               params.seconds, start_at, params.threads, run_no * 100 + p)
               for p in range(params.processes)]
    commits: list[tuple[str, float, float]] = []
    errors: Counter[str] = Counter()
    for f in futures:
        part = f.result()
        commits.extend(part["commits"])
        errors.update(part["errors"])
    _wait_for(lambda: all(c[0] in receiver.first_seen for c in commits), params.drain_seconds)
    lags = [(receiver.first_seen[oid] - committed) * 1000 for oid, committed, _ in commits
            if oid in receiver.first_seen]
    late = [(committed - scheduled) * 1000 for _, committed, scheduled in commits]
    span = max((c[1] for c in commits), default=start_at) - start_at
    with psycopg.connect(dsn) as conn:
        acks = [float(r[0]) for r in conn.execute(
            "select extract(epoch from published_at - occurred_at) * 1000 from outbox"
            " where topic = %s and event_type = 'order.created' and entity_id = any(%s)"
            " and published_at is not null",
            (CORE_ORDERS.name, [c[0] for c in commits])).fetchall()]
    return {
        "rate_target": rate,
        "orders": len(commits), "order_errors": dict(errors),
        "achieved_rate": round(len(commits) / span, 1) if span > 0 else 0.0,
        "commit_behind_schedule_ms": latency_summary(late),
        "received": len(lags), "missing": len(commits) - len(lags),
        "lag_ms": latency_summary(lags),
        "relay_ack_ms": latency_summary(acks),
    }


def bench_outbox(dsn: str, info: CatalogInfo, params: OutboxParams) -> Result:
    result = Result("outbox_lag", {
        "runs": params.runs, "seconds_per_run": params.seconds, "rate": params.rate,
        "processes": params.processes, "threads_per_process": params.threads,
        "order": "1 variant x 1 unit, delivery, random in-stock variant of 100k",
        "baseline_code": str(params.baseline) if params.baseline else None})
    if skipped(result, kafka_available()):
        return result
    online = make_shops_online(dsn, info)
    print(f"    {online}/{len(info.shop_ids)} shops online", flush=True)
    with psycopg.connect(dsn) as conn:
        variants = [(str(v), str(s)) for v, s in conn.execute(
            "select id, shop_id from product_variants where stock_qty >= 100").fetchall()]
    buyers = [str(b) for b in info.buyer_ids]
    arms = [Arm("current")]
    if params.baseline is not None:
        arms.insert(0, Arm("baseline", params.baseline, notify_trigger=True))
    receiver = Receiver(CORE_ORDERS.name)
    try:
        for i in range(params.runs):
            for arm in arms:  # interleaved: both arms see the same machine state
                run = _arm_run(dsn, info, arm, receiver, params.rate, params, variants, buyers, i)
                result.runs.append(run)
                print(f"    {arm.name} run {i + 1}/{params.runs}: " + _line(run), flush=True)
        current = [r for r in result.runs if r["arm"] == "current"]
        achieved = median_of(current, "achieved_rate") or 0.0
        if achieved < 0.95 * params.rate:
            # the machine cannot place orders that fast: measure at what it sustains
            lower = max(10.0, float(int(achieved * 0.85 / 10) * 10))
            for i in range(params.sustained_runs):
                run = _arm_run(dsn, info, arms[-1], receiver, lower, params, variants, buyers,
                               100 + i)
                result.runs.append(run)
                print(f"    at {lower:.0f}/s, run {i + 1}/{params.sustained_runs}: "
                      + _line(run), flush=True)
    finally:
        receiver.close()
        _set_notify_trigger(dsn, False)
    _summarise(result, params)
    return result


def _arm_run(dsn: str, info: CatalogInfo, arm: Arm, receiver: Receiver, rate: float,
             params: OutboxParams,
             variants: list[tuple[str, str]], buyers: list[str], run_no: int) -> dict[str, Any]:
    """One run of one arm: its trigger state, its relay, its order-placing processes."""
    _set_notify_trigger(dsn, arm.notify_trigger)
    ctx = multiprocessing.get_context("spawn")
    code = str(arm.code_dir) if arm.code_dir else None
    make_shops_online(dsn, info)  # fresh heartbeats: runs outlast the POS timeout
    with relay_process(dsn, arm.code_dir) as relay, ProcessPoolExecutor(
            params.processes, mp_context=ctx, initializer=_use_code, initargs=(code,)) as ex:
        # the heartbeats' eligibility events go out first; the pool's processes start
        _wait_for(lambda: _backlog(dsn) == 0, 60)
        list(ex.map(time.sleep, [0.1] * params.processes))
        # warm-up, not measured: the relay's first Kafka transactions, the drivers'
        # prepared statements and imports
        _one_run(dsn, ex, receiver, min(rate, 100.0), replace(params, seconds=2.0), variants,
                 buyers, run_no + 1000)
        before = _cpu_seconds(relay)
        run = _one_run(dsn, ex, receiver, rate, params, variants, buyers, run_no)
        after = _cpu_seconds(relay)
    orders = max(run["orders"], 1)
    run["cpu_ms_per_order"] = {k: round((after[k] - before[k]) * 1000 / orders, 2)
                               for k in after}
    run["kafka_roundtrip"] = kafka_roundtrip(rate, min(params.seconds, 10),
                                             CORE_ORDERS.partitions)
    run["arm"] = arm.name
    run["run"] = run_no % 100 + 1
    return run


def _cpu_seconds(relay: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by: this process's children (the
    order-placing pool; the relay apart), the relay, every Postgres process, the Kafka
    broker, and the whole machine (steal excluded)."""
    def used(proc: psutil.Process) -> float:
        try:
            t = proc.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    me = psutil.Process()
    children = [c for c in me.children(recursive=True) if c.pid != relay.pid]
    postgres, kafka = 0.0, 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        name = proc.info["name"] or ""
        if name.startswith("postgres"):
            postgres += used(proc)
        elif name == "java" and "kafka.Kafka" in " ".join(proc.info["cmdline"] or []):
            kafka += used(proc)
    machine = psutil.cpu_times()
    return {"drivers": sum(used(c) for c in children), "relay": used(psutil.Process(relay.pid)),
            "postgres": postgres, "kafka": kafka,
            "machine": float(machine.user + machine.system + machine.nice
                             + getattr(machine, "softirq", 0.0) + getattr(machine, "irq", 0.0))}


def _line(run: dict[str, Any]) -> str:
    lag, ack = run["lag_ms"], run["relay_ack_ms"]
    rt = run["kafka_roundtrip"]["lag_ms"]
    return (f"{run['orders']} orders at {run['achieved_rate']:.0f}/s"
            f" (target {run['rate_target']:.0f}/s, {sum(run['order_errors'].values())} refused,"
            f" {run['missing']} missing); lag p50 {lag['p50']:.0f} p99 {lag['p99']:.0f}"
            f" max {lag['max']:.0f} ms; relay ack p99 {ack['p99']:.0f} ms;"
            f" bare kafka p99 {rt['p99']:.0f} ms; CPU ms/order "
            + ", ".join(f"{k} {v}" for k, v in run.get("cpu_ms_per_order", {}).items()))


def _section(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    measured = {
        "rate_target": median_of(runs, "rate_target"),
        "achieved_rate": median_of(runs, "achieved_rate"),
        "lag_p50_ms": median_of(runs, "lag_ms.p50"),
        "lag_p99_ms": median_of(runs, "lag_ms.p99"),
        "lag_max_ms": median_of(runs, "lag_ms.max"),
        "missing": median_of(runs, "missing"),
        "cpu_ms_per_order": {k: median_of(runs, f"cpu_ms_per_order.{k}")
                             for k in ("drivers", "relay", "postgres", "kafka", "machine")},
    }
    baseline = {
        "relay_ack_p50_ms": median_of(runs, "relay_ack_ms.p50"),
        "relay_ack_p99_ms": median_of(runs, "relay_ack_ms.p99"),
        "kafka_roundtrip_p50_ms": median_of(runs, "kafka_roundtrip.lag_ms.p50"),
        "kafka_roundtrip_p99_ms": median_of(runs, "kafka_roundtrip.lag_ms.p99"),
    }
    return measured, baseline


def _summarise(result: Result, params: OutboxParams) -> None:
    current = [r for r in result.runs if r["arm"] == "current"]
    at_target = [r for r in current if r["rate_target"] == params.rate]
    lower = [r for r in current if r["rate_target"] != params.rate]
    before = [r for r in result.runs if r["arm"] == "baseline"]
    result.median, result.baseline_median = _section(at_target)
    if lower:
        result.median["at_sustained_rate"], result.baseline_median["at_sustained_rate"] = (
            _section(lower))
    if before:
        result.baseline_median["baseline_code"] = _section(before)[0]
    m, b = result.median, result.baseline_median
    result.ratio = {
        "lag_p99_over_kafka_roundtrip_p99": ratio(m["lag_p99_ms"], b["kafka_roundtrip_p99_ms"]),
        "lag_p50_over_kafka_roundtrip_p50": ratio(m["lag_p50_ms"], b["kafka_roundtrip_p50_ms"]),
        "lag_p99_over_relay_ack_p99": ratio(m["lag_p99_ms"], b["relay_ack_p99_ms"]),
    }
    if before:
        result.ratio["achieved_rate_over_baseline_code"] = ratio(
            m["achieved_rate"], b["baseline_code"]["achieved_rate"])
    result.targets = {
        "achieved_rate": target(m["achieved_rate"], at_least=0.98 * params.rate),
        "lag_p99_ms": target(m["lag_p99_ms"], below=500),
    }
    if before:
        result.targets["twice_the_baseline_code"] = target(
            result.ratio["achieved_rate_over_baseline_code"], at_least=2.0)
    result.targets["met"] = all_met(result.targets)
    if lower:
        result.notes.append(
            f"{params.rate:.0f} orders/s was not sustained (median"
            f" {m['achieved_rate']}/s); median.at_sustained_rate holds the lag at"
            f" {statistics.median(r['rate_target'] for r in lower):.0f}/s")
