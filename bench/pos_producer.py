"""POS producer throughput: a real terminal (outbox + signing + Avro) against bare Kafka.

One run, in this one process, with N sale events (1-3 lines each, seeded):

* `build_only` — what `sale()` computes before its commit (the checked `PosSale`, its
  HMAC signature, its Avro body), in a loop: the CPU part.
* `record_only` — a `Terminal` without its sender thread records the N sales: signing,
  Avro encoding and one durable SQLite commit (WAL, synchronous=FULL) per event, no
  network. Where the time of the terminal goes.
* `baseline` — a confluent-kafka `Producer` with the terminal's own producer settings
  (`pos_producer.producer.producer_config`: idempotent, acks=all, zstd, linger 5 ms) sends
  the SAME bytes (the Confluent-framed values of the rows the record-only phase left in its
  outbox; same key = device id, same `device-token` header) with no outbox: events/s from
  the first produce to the last delivery report. The ceiling on this machine.
* `backlog_drain` — the till reconnecting after being offline: a terminal opened on the
  record-only phase's outbox (N unsent rows) sends them all (`flush`: batches of 500,
  each row marked delivered from its report).
* `terminal` — a fresh `Terminal` with its background sender records the N sales as fast
  as it can while its sender drains the outbox: events/s = N / (first `sale()` call until
  the outbox holds no undelivered row, i.e. every delivery report was recorded).

Both send to a temporary topic (6 partitions like `pos.sales`, deleted afterwards) so the
lake and a running ingest never see bench traffic; the only change to the shipped
terminal is the topic name its producer writes to (`redirect_topics`). The framing uses
the schema id the platform registered for `pos.sales`. Device ids are `POS-8xxxxxxx`,
unknown to every core database. Each phase checks that the topic grew by exactly N.
"""

from __future__ import annotations

import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import KafkaError, Message, Producer, TopicPartition

from bench.kafka_tools import kafka_reason, skipped, temporary_topics
from bench.results import Result, median_of, ratio
from infra.settings import get_settings
from pos_producer import DeviceConfig, Item, Terminal, wire
from pos_producer.config import DEFAULT_MESSAGE_TIMEOUT_MS
from pos_producer.events import PosSale
from pos_producer.producer import TOKEN_HEADER, OutboxSender, producer_config
from pos_producer.terminal import receipt_number
from schemas.registry import registry_client
from schemas.topics import POS_SALES

PRICES = [Decimal(p) for p in ("45.00", "120.00", "350.00", "899.50", "1250.00", "4990.00",
                               "15900.00", "32.50")]


@dataclass(frozen=True)
class ProducerParams:
    runs: int
    events: int
    seed: int = 20_240_601
    max_items: int = 3


# --- a redirected sender (shared with bench/pos_ingest.py) -------------------------------


class _RenamingProducer:
    """A Producer that writes to other topic names; everything else passes through."""

    def __init__(self, producer: Producer, renames: dict[str, str]) -> None:
        self._producer = producer
        self._renames = renames

    def produce(self, topic: str, *args: Any, **kwargs: Any) -> None:
        self._producer.produce(self._renames.get(topic, topic), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


class _RedirectedSender(OutboxSender):
    def __init__(self, till: Terminal, renames: dict[str, str]) -> None:
        self._renames = renames
        super().__init__(till.outbox, till.config)

    def _new_producer(self) -> Producer:
        producer: Any = _RenamingProducer(super()._new_producer(), self._renames)
        return producer  # duck-typed: only produce() differs


def redirect_topics(till: Terminal, renames: dict[str, str]) -> None:
    """Make a freshly started terminal send to other topics. Call it before the first
    event is recorded: the old sender never produced anything, and the pause lets the
    background thread finish a step it may have begun on the old sender."""
    old = till.sender
    till.sender = _RedirectedSender(till, renames)
    old.close(0)
    time.sleep(0.5)


def topic_size(topic: str) -> int:
    """Messages in the topic: the sum of its partitions' high watermarks."""
    s = get_settings()
    consumer = KafkaConsumer({"bootstrap.servers": s.kafka_bootstrap_servers,
                              "group.id": f"bench-size-{secrets.token_hex(4)}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in meta.partitions)
    finally:
        consumer.close()


# --- one run --------------------------------------------------------------------------------


def _sales(rng: random.Random, n: int, max_items: int) -> list[list[Item]]:
    variants = [UUID(int=rng.getrandbits(128), version=4) for _ in range(500)]
    return [[Item(variant_id=rng.choice(variants), qty=rng.randint(1, 3),
                  unit_price=rng.choice(PRICES)) for _ in range(rng.randint(1, max_items))]
            for _ in range(n)]


def _device(outbox: Path) -> DeviceConfig:
    device_id = f"POS-8{secrets.randbelow(10**7):07d}"
    return DeviceConfig(device_id=device_id, shop_id=uuid4(), token="pos_bench_" +
                        secrets.token_hex(8), secret=secrets.token_hex(32), outbox_path=outbox)


def _build_only(cfg: DeviceConfig, sales: Sequence[list[Item]]) -> dict[str, Any]:
    """What `Terminal.sale()` computes before its SQLite commit: the checked event, its
    HMAC signature and its Avro body (no outbox, no network)."""
    at = datetime.now(UTC)
    started = time.perf_counter()
    for n, items in enumerate(sales, start=1):
        event = PosSale(device_id=cfg.device_id, shop_id=cfg.shop_id,
                        receipt_number=receipt_number(cfg.device_id, n), items=tuple(items),
                        event_time=at, sequence_number=n, sale_id=uuid4()).signed(cfg.secret)
        wire.avro_body(POS_SALES, event.to_record())
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "events_per_s": round(len(sales) / seconds, 1)}


def _record_only(cfg: DeviceConfig, sales: Sequence[list[Item]]) -> tuple[dict[str, Any],
                                                                            list[bytes]]:
    """Record without sending; returns the timing and the rows' Avro bodies."""
    till = Terminal(cfg, background=False)
    try:
        started = time.perf_counter()
        for items in sales:
            till.sale(items)
        seconds = time.perf_counter() - started
        bodies = [row.body for row in till.outbox.rows(cfg.device_id)]
    finally:
        till.close(0)
    return {"seconds": round(seconds, 3), "events_per_s": round(len(sales) / seconds, 1)}, bodies


def _drain(cfg: DeviceConfig, topic: str, n: int) -> dict[str, Any]:
    """The backlog a till builds offline, sent when it reconnects: a terminal opened on the
    record-only outbox (N unsent rows) sends until none is left (`flush`)."""
    before = topic_size(topic)
    with Terminal(cfg, background=False) as till:
        redirect_topics(till, {POS_SALES.name: topic})
        started = time.perf_counter()
        left = till.flush(120)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "events_per_s": round((n - left) / seconds, 1),
            "undelivered": left, "in_topic": topic_size(topic) - before}


def _baseline(cfg: DeviceConfig, topic: str, values: Sequence[bytes]) -> dict[str, Any]:
    """The same framed values through a bare producer with the terminal's settings."""
    producer = Producer(producer_config(None, **{
        "client.id": f"bench-baseline-{cfg.device_id}",
        "message.timeout.ms": DEFAULT_MESSAGE_TIMEOUT_MS}))
    key = cfg.device_id.encode()
    headers: list[tuple[str, str | bytes | None]] = [(TOKEN_HEADER, cfg.token.encode())]
    delivered = failed = 0
    last_report = 0.0

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal delivered, failed, last_report
        last_report = time.perf_counter()
        if err is None:
            delivered += 1
        else:
            failed += 1

    before = topic_size(topic)
    started = time.perf_counter()
    for value in values:
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers,
                                 on_delivery=on_delivery)
                break
            except BufferError:  # the local queue is full: serve reports, then retry
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(120)
    seconds = (last_report or time.perf_counter()) - started
    return {"seconds": round(seconds, 3), "events_per_s": round(delivered / seconds, 1),
            "delivered": delivered, "failed": failed, "undelivered": left,
            "in_topic": topic_size(topic) - before}


def _terminal(cfg: DeviceConfig, topic: str, sales: Sequence[list[Item]],
              drain_seconds: float = 120.0) -> dict[str, Any]:
    """Record every sale as fast as possible while the terminal's own sender drains."""
    before = topic_size(topic)
    with Terminal(cfg) as till:
        redirect_topics(till, {POS_SALES.name: topic})
        started = time.perf_counter()
        for items in sales:
            till.sale(items)
        recorded = time.perf_counter()
        pending_at_end_of_recording = till.pending()
        deadline = recorded + drain_seconds
        while till.pending() and time.perf_counter() < deadline:
            time.sleep(0.005)
        finished = time.perf_counter()
        left = till.pending()
        last_error = till.sender.last_error
    seconds = finished - started
    run: dict[str, Any] = {
        "seconds": round(seconds, 3),
        "events_per_s": round((len(sales) - left) / seconds, 1),
        "record_phase_seconds": round(recorded - started, 3),
        "record_phase_events_per_s": round(len(sales) / (recorded - started), 1),
        "pending_when_recording_ended": pending_at_end_of_recording,
        "undelivered": left, "in_topic": topic_size(topic) - before,
    }
    if last_error:
        run["last_error"] = last_error
    return run


def _one_run(params: ProducerParams, topic: str, schema_id: int, workdir: Path,
             run_no: int) -> dict[str, Any]:
    rng = random.Random(params.seed + run_no)
    sales = _sales(rng, params.events, params.max_items)
    build_only = _build_only(_device(workdir / "unused.sqlite"), sales)
    offline = _device(workdir / f"record-{run_no}.sqlite")
    record_only, bodies = _record_only(offline, sales)
    values = [wire.frame(schema_id, body) for body in bodies]
    baseline = _baseline(_device(workdir / "unused.sqlite"), topic, values)
    drain = _drain(offline, topic, len(sales))
    terminal = _terminal(_device(workdir / f"terminal-{run_no}.sqlite"), topic, sales)
    return {
        "run": run_no + 1, "events": params.events,
        "lines_per_event_mean": round(statistics.fmean(len(s) for s in sales), 2),
        "value_bytes_mean": round(statistics.fmean(len(v) for v in values), 1),
        "build_only": build_only, "record_only": record_only, "baseline": baseline,
        "backlog_drain": drain, "terminal": terminal,
    }


def bench_pos_producer(params: ProducerParams) -> Result:
    result = Result("pos_producer_throughput", {
        "runs": params.runs, "events_per_run": params.events, "seed": params.seed,
        "event": f"sale, 1-{params.max_items} lines, signed (HMAC-SHA256), Avro",
        "producer": "idempotent, acks=all, zstd, linger.ms=5 (pos_producer.producer_config)",
        "outbox": "SQLite WAL, synchronous=FULL, one commit per event",
        "topic": "temporary, 6 partitions; one device = one key = one partition"})
    if skipped(result, kafka_reason()):
        return result
    schema_id = wire.registered_schema_id(registry_client(), POS_SALES)
    with temporary_topics("bench.pos.throughput") as (topic,), \
            tempfile.TemporaryDirectory(prefix="bench-pos-") as tmp:
        for i in range(params.runs):
            run = _one_run(params, topic, schema_id, Path(tmp), i)
            result.runs.append(run)
            print(f"    run {i + 1}/{params.runs}: " + _line(run), flush=True)
    _summarise(result, params)
    return result


def _line(run: dict[str, Any]) -> str:
    t, b, r = run["terminal"], run["baseline"], run["record_only"]
    return (f"terminal {t['events_per_s']:.0f}/s ({t['undelivered']} undelivered,"
            f" {t['in_topic']} in topic); bare producer {b['events_per_s']:.0f}/s"
            f" ({b['in_topic']} in topic); record only {r['events_per_s']:.0f}/s;"
            f" build only {run['build_only']['events_per_s']:.0f}/s; backlog drain"
            f" {run['backlog_drain']['events_per_s']:.0f}/s")


def _summarise(result: Result, params: ProducerParams) -> None:
    runs = result.runs
    result.median = {
        "events_per_s": median_of(runs, "terminal.events_per_s"),
        "record_only_events_per_s": median_of(runs, "record_only.events_per_s"),
        "build_only_events_per_s": median_of(runs, "build_only.events_per_s"),
        "backlog_drain_events_per_s": median_of(runs, "backlog_drain.events_per_s"),
        "record_phase_events_per_s": median_of(runs, "terminal.record_phase_events_per_s"),
        "seconds": median_of(runs, "terminal.seconds"),
    }
    result.baseline_median = {
        "events_per_s": median_of(runs, "baseline.events_per_s"),
        "seconds": median_of(runs, "baseline.seconds"),
    }
    m, b = result.median, result.baseline_median
    result.ratio = {
        "terminal_over_bare_producer": ratio(m["events_per_s"], b["events_per_s"]),
        "record_only_over_bare_producer": ratio(m["record_only_events_per_s"],
                                                b["events_per_s"]),
        "backlog_drain_over_bare_producer": ratio(m["backlog_drain_events_per_s"],
                                                  b["events_per_s"]),
    }
    exact = bool(runs) and all(
        r[phase]["in_topic"] == params.events and r[phase]["undelivered"] == 0
        for r in runs for phase in ("terminal", "backlog_drain", "baseline"))
    # The issue sets no number for this one: the ratio is the figure. What must hold is
    # that every recorded event reached the topic exactly once.
    result.targets = {
        "every_event_delivered_once": {"value": exact, "equals": True, "met": exact},
    }
    result.targets["met"] = exact
    result.notes.append(
        "sent to a temporary topic (not pos.sales) so neither the lake nor an ingest sees"
        " bench traffic; device ids POS-8xxxxxxx are unknown to every core database")
