"""Notifications: the worker's throughput from Kafka to the provider interface, against a
bare consume of the same topic; and event-to-mailbox latency through real SMTP to Mailpit.

    python -m bench.notifications [--runs 3] [--events 600] [--mail 30]

One run:

* `baseline` — a confluent-kafka consumer reads the N notify.order records of a temporary
  topic and decodes them with the registry's Avro deserializer (what the worker does
  before any work of its own): records/s.
* `worker` — `NotificationsWorker` (consumer and dispatcher threads, as the service runs)
  reads the same N records: per record it resolves the recipient, loads preferences,
  dedups, writes the queue row, commits, then claims it, checks quiet hours and the rate
  limit, unseals the push token, renders the template and hands it to the push simulator
  (in-process, instant: the provider itself is not measured), and records it `sent`.
  notifications/s = N / (partitions assigned .. the N-th row `sent`).
* `mail` — with the worker running, M events whose recipients have only e-mail are
  produced one by one (100 ms apart); latency = Mailpit's receive time − produce time.

The records are framed with the registry id of `notify.order-value` and written to a
temporary topic (deleted afterwards), so neither the lake nor a running worker sees them;
the users live in a throw-away database. Figures: medians over runs, ratio worker/baseline.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import fastavro
import httpx
import psycopg
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench.catalog_data import bench_database
from bench.kafka_tools import temporary_topics
from bench.results import RESULTS_DIR, Result, latency_summary, median_of, ratio, target
from infra.settings import get_settings
from marketplace_core.accounts import service as accounts
from marketplace_core.notifications import addresses, preferences
from marketplace_core.notifications.channels import (
    Providers,
    SimulatedPush,
    SimulatedSms,
    SmtpEmailProvider,
)
from marketplace_core.notifications.worker import NotificationsWorker
from schemas.registry import registry_client
from schemas.topics import NOTIFY_ORDER, Topic, schema_str

NAME = "notifications"


def _users(dsn: str, n: int, *, push: bool) -> list[tuple[uuid.UUID, str]]:
    out = []
    with psycopg.connect(dsn) as conn:
        for _ in range(n):
            email = f"bench-{secrets.token_hex(6)}@notify-bench.example.kg"
            user = accounts.register_user(conn, email=email, password="bench password 1",
                                          full_name="Bench buyer", role="buyer",
                                          password_rounds=4).user
            if push:
                addresses.set_address(conn, user.id, "push", f"fcm-{secrets.token_hex(16)}")
            else:
                preferences.save_channel(conn, "user", user.id, "push", {"enabled": False})
            out.append((user.id, email))
        conn.commit()
    return out


def _framer() -> Any:
    schema_id = registry_client().lookup_schema(
        NOTIFY_ORDER.subject, Schema(schema_str(NOTIFY_ORDER), "AVRO")).schema_id
    assert schema_id is not None, "notify.order-value is not registered"
    parsed = fastavro.parse_schema(json.loads(schema_str(NOTIFY_ORDER)))

    def frame(user_id: uuid.UUID, n: int) -> bytes:
        record = {"event_id": str(uuid.uuid4()), "event_type": "order_created",
                  "occurred_at": datetime.now(UTC), "audience": "user",
                  "recipient_user_id": str(user_id), "recipient_shop_id": None,
                  "shop_id": None, "entity_type": "order", "entity_id": str(uuid.uuid4()),
                  "priority": "normal", "consent": "transactional",
                  "data_json": json.dumps({"orderId": f"B{n:07d}", "total": "1500.00",
                                           "shopName": "Бермет", "ts": "2031-03-04T04:00:00"})}
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        return b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()

    return frame


def _produce(topic: str, values: list[tuple[str, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "linger.ms": 5, "acks": "all"})
    for key, value in values:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
    producer.flush(30)


def _bare_consume(topic: str, n: int) -> float:
    deserializer = AvroDeserializer(registry_client(), schema_str(NOTIFY_ORDER))
    consumer = Consumer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "group.id": f"bench-bare-{secrets.token_hex(4)}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got, started = 0, None
    try:
        while got < n:
            for m in consumer.consume(500, timeout=1.0):
                if m.error():
                    continue
                started = started or time.perf_counter()
                deserializer(m.value(), SerializationContext(topic, MessageField.VALUE))
                got += 1
        assert started is not None
        return n / (time.perf_counter() - started)
    finally:
        consumer.close()


def _sent(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select count(*) from notification_log where status = 'sent'"
                       ).fetchone()
    return int(row[0]) if row else 0


def _run(dsn: str, topic: Topic, frame: Any, users: list[tuple[uuid.UUID, str]],
         mail_users: list[tuple[uuid.UUID, str]], n: int) -> dict[str, Any]:
    values = [(str(users[i % len(users)][0]), frame(users[i % len(users)][0], i))
              for i in range(n)]
    _produce(topic.name, values)
    baseline = _bare_consume(topic.name, n)
    watch = psycopg.connect(dsn, autocommit=True)
    load_before = os.getloadavg()[0]
    before = _sent(watch)
    worker = NotificationsWorker(
        dsn, topics=[topic], group_id=f"bench-worker-{secrets.token_hex(4)}",
        providers=Providers(SimulatedPush(callback=lambda *_: None), SmtpEmailProvider(),
                            SimulatedSms(callback=lambda *_: None)))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    # timed from the partition assignment: the consumer group's join is not the work
    if not worker.assigned.wait(60):
        raise TimeoutError("the worker got no partitions")
    started = time.perf_counter()
    while _sent(watch) - before < n:
        time.sleep(0.05)
        if time.perf_counter() - started > 600:
            raise TimeoutError("the worker did not send every notification in 10 minutes")
    seconds = time.perf_counter() - started
    watch.close()
    # event to mailbox, the worker idle and listening
    base = get_settings().mailpit_url
    produced: dict[str, float] = {}
    for i, (user_id, email) in enumerate(mail_users):
        produced[email] = time.time()
        _produce(topic.name, [(str(user_id), frame(user_id, 10_000_000 + i))])
        time.sleep(0.1)
    latencies: list[float] = []
    deadline = time.monotonic() + 60
    pending = dict(produced)
    while pending and time.monotonic() < deadline:
        for email in list(pending):
            found = httpx.get(f"{base}/api/v1/search", params={"query": f'to:"{email}"'},
                              timeout=5).json().get("messages") or []
            if found:
                received = datetime.fromisoformat(found[0]["Created"].replace("Z", "+00:00"))
                latencies.append((received.timestamp() - pending.pop(email)) * 1000)
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=30)
    return {"events": n, "baseline_per_s": round(baseline, 1),
            "load_average_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "worker_per_s": round(n / seconds, 1), "worker_seconds": round(seconds, 3),
            "mail": {"sent": len(mail_users), "arrived": len(latencies),
                     "latency_ms": latency_summary(latencies)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--mail", type=int, default=30)
    parser.add_argument("--users", type=int, default=150)
    args = parser.parse_args()
    result = Result(NAME, {"runs": args.runs, "events": args.events, "mail": args.mail,
                           "users": args.users})
    frame = _framer()
    for run in range(args.runs):
        with bench_database() as dsn, temporary_topics("bench.notify_order",
                                                       partitions=3) as [name]:
            topic = Topic(name=name, key="recipient", schema_file=NOTIFY_ORDER.schema_file,
                          partitions=3, retention_ms=3_600_000)
            users = _users(dsn, args.users, push=True)
            mail_users = _users(dsn, args.mail, push=False)
            got = _run(dsn, topic, frame, users, mail_users, args.events)
            print(f"  run {run + 1}: worker {got['worker_per_s']}/s, bare consume "
                  f"{got['baseline_per_s']}/s, mail p95 {got['mail']['latency_ms']['p95']} ms",
                  flush=True)
            result.runs.append(got)
    result.median = {"worker_per_s": median_of(result.runs, "worker_per_s"),
                     "mail_p95_ms": median_of(result.runs, "mail.latency_ms.p95"),
                     "mail_p50_ms": median_of(result.runs, "mail.latency_ms.p50")}
    result.baseline_median = {"baseline_per_s": median_of(result.runs, "baseline_per_s")}
    result.ratio = {"worker_vs_bare_consume": ratio(result.median["worker_per_s"],
                                                    result.baseline_median["baseline_per_s"])}
    result.targets = {"mail_p95_below_ms": target(result.median["mail_p95_ms"], below=5000)}
    result.notes = [
        "worker = Kafka -> queue row (Postgres) -> claim -> template -> push provider "
        "interface (simulator, instant) -> sent; NOTIFY_DISPATCH_THREADS dispatchers",
        "load_average_1m: the machine's load (2 cores, shared) before and after each run: "
        "the worker's time is Postgres round trips, which a loaded machine stretches",
        "baseline = consume + Avro decode of the same records, nothing else",
        "mail = produce -> worker -> SMTP -> Mailpit receive time (same machine clock)",
        f"spread of worker_per_s over runs: "
        f"{statistics.pstdev([r['worker_per_s'] for r in result.runs]):.1f}",
    ]
    path = result.write(RESULTS_DIR)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
