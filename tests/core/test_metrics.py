"""Prometheus metrics of the core's processes (issue 11 §6): the API's `/metrics` by route
template, the POS gauges read from pos_devices at scrape time, the relay's outbox lag and
published counts, the ingest's applied/refused events and consumer lag."""

from __future__ import annotations

import contextlib
import secrets
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from infra.settings import get_settings
from marketplace_core.catalog import service as catalog
from marketplace_core.migrate import apply_migrations
from marketplace_core.outbox import emit
from schemas.registry import register, registry_client
from schemas.topics import (
    CORE_PRODUCTS,
    POS_DEAD_LETTER,
    POS_HEARTBEATS,
    POS_SALES,
    Topic,
    schema_str,
)
from tests.core.test_pos_ingest_support import heartbeat, make_device, make_variant, till_event

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_api(core_dsn: str) -> Iterator[Any]:
    """An app of its own: the scrape-time gauges read the latest app's database."""
    from fastapi.testclient import TestClient

    from marketplace_core.api.app import create_app

    with TestClient(create_app(core_dsn, run_sweeper=False)) as client:
        yield client


def test_api_metrics_count_requests_by_route_template_not_raw_path(metrics_api: Any) -> None:
    product_id = uuid4()
    assert metrics_api.get(f"/products/{product_id}").status_code == 404
    assert metrics_api.get(f"/no/such/path/{secrets.token_hex(4)}").status_code == 404
    response = metrics_api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert str(product_id) not in body  # the template, never the id
    samples = _samples(body)
    route = "/products/{product_id}"
    key = ("http_requests_total", frozenset({("app", "core-api"), ("route", route),
                                               ("method", "GET"), ("status", "4xx")}))
    assert samples[key] >= 1
    count = ("http_request_duration_seconds_count",
             frozenset({("app", "core-api"), ("route", route), ("method", "GET")}))
    assert samples[count] >= 1
    unmatched = ("http_requests_total", frozenset({("app", "core-api"), ("route", "<unmatched>"),
                                                     ("method", "GET"), ("status", "4xx")}))
    assert samples[unmatched] >= 1
    # Not part of the API's contract (the fuzzers and clients read the OpenAPI).
    assert "/metrics" not in metrics_api.get("/openapi.json").json()["paths"]


def test_pos_heartbeat_age_and_offline_count_are_read_at_scrape(
        metrics_api: Any, core_dsn: str) -> None:
    with psycopg.connect(core_dsn) as conn:
        merchant = catalog.create_merchant(conn, f"Metrics {secrets.token_hex(3)}")
        shop = catalog.create_shop(conn, merchant.id, "Metrics shop", address="Osh bazaar")
        silent = make_device(conn, shop.id)
        never = make_device(conn, shop.id)
        conn.execute("update pos_devices set last_heartbeat_at = now() - interval '700 s',"
                     " connectivity = 'pos_offline' where id = %s", (silent.device_id,))
    samples = _samples(metrics_api.get("/metrics").text)
    age = samples[("pos_heartbeat_age_seconds", frozenset({("device_id", silent.device_id)}))]
    assert 700 <= age < 800
    # Never heard from: no age, but counted offline.
    assert not any(k[0] == "pos_heartbeat_age_seconds" and ("device_id", never.device_id) in k[1]
                   for k in samples)
    offline = samples[("pos_devices", frozenset({("connectivity", "pos_offline")}))]
    assert offline >= 2


@pytest.fixture
def relay_dsn(make_database: Callable[[], str]) -> str:
    dsn = make_database()
    apply_migrations(dsn)
    register(CORE_PRODUCTS)
    return dsn


def test_relay_metrics_move_when_it_publishes(relay_dsn: str) -> None:
    from marketplace_core.outbox.relay import OutboxRelay, register_backlog_metrics

    register_backlog_metrics(relay_dsn)
    with psycopg.connect(relay_dsn) as conn, conn.transaction():
        for n in range(7):
            product_id = uuid4()
            conn.execute("select pg_advisory_xact_lock(%s)", (zlib.crc32(product_id.bytes),))
            emit(conn, CORE_PRODUCTS, entity_type="product", entity_id=product_id,
                 event_type="product.updated",
                 record={"product_id": product_id, "shop_id": uuid4(), "merchant_id": uuid4(),
                         "name_ru": f"Метрика {n}"})
    assert _value("outbox_unpublished_rows") == 7
    assert _value("outbox_oldest_unpublished_age_seconds") > 0
    published = _value("outbox_published_rows_total", topic=CORE_PRODUCTS.name)
    lags = _value("outbox_publish_lag_seconds_count")

    OutboxRelay(relay_dsn, topics=[CORE_PRODUCTS]).run(until_idle=True)

    assert _value("outbox_published_rows_total", topic=CORE_PRODUCTS.name) == published + 7
    assert _value("outbox_publish_lag_seconds_count") == lags + 7
    assert _value("outbox_unpublished_rows") == 0
    assert _value("outbox_oldest_unpublished_age_seconds") == 0


@pytest.fixture
def pos_topics() -> Iterator[tuple[Topic, Topic, Topic]]:
    suffix = secrets.token_hex(4)
    made = tuple(Topic(name=f"{t.name}.metrics-{suffix}", key=t.key, schema_file=t.schema_file,
                       partitions=p, retention_ms=3_600_000)
                 for t, p in ((POS_SALES, 2), (POS_HEARTBEATS, 1), (POS_DEAD_LETTER, 1)))
    admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    for fut in admin.create_topics([NewTopic(t.name, num_partitions=t.partitions,
                                             replication_factor=1) for t in made]).values():
        fut.result(timeout=30)
    for t in made:
        register(t)
    try:
        yield made  # type: ignore[misc]
    finally:
        for fut in admin.delete_topics([t.name for t in made]).values():
            with contextlib.suppress(Exception):  # cleanup only
                fut.result(timeout=30)


def test_ingest_metrics_count_applied_and_refused_events_and_lag(
        make_database: Callable[[], str], pos_topics: tuple[Topic, Topic, Topic],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from marketplace_core.pos import consumer as consumer_module
    from marketplace_core.pos.consumer import PosIngestConsumer

    monkeypatch.setattr(consumer_module, "_LAG_EVERY", 0.0)
    sales, heartbeats, dead = pos_topics
    dsn = make_database()
    apply_migrations(dsn)
    with psycopg.connect(dsn) as conn:
        merchant = catalog.create_merchant(conn, f"Ingest {secrets.token_hex(3)}")
        shop = catalog.create_shop(conn, merchant.id, "Ingest shop", address="Dordoi")
        variant = make_variant(conn, shop.id, stock=100)
        creds = make_device(conn, shop.id)
    registry = registry_client()
    encode_sale = AvroSerializer(registry, schema_str(POS_SALES),
                                 conf={"auto.register.schemas": False})
    encode_beat = AvroSerializer(registry, schema_str(POS_HEARTBEATS),
                                 conf={"auto.register.schemas": False})
    producer = Producer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "enable.idempotence": True, "acks": "all"})
    headers: list[tuple[str, str | bytes | None]] = [("device-token", creds.token.encode())]
    for _ in range(3):
        producer.produce(sales.name, key=creds.device_id.encode(), headers=headers,
                         value=encode_sale(till_event(creds, [(variant, 1, "1500.00")]),
                                           SerializationContext(sales.name, MessageField.VALUE)))
    producer.produce(sales.name, key=creds.device_id.encode(), headers=headers,
                     value=b"\x00garbage")
    producer.produce(heartbeats.name, key=creds.device_id.encode(), headers=headers,
                     value=encode_beat(heartbeat(creds),
                                       SerializationContext(heartbeats.name, MessageField.VALUE)))
    assert producer.flush(30) == 0

    applied = _value("pos_ingest_events_total", topic=sales.name, outcome="applied")
    undecodable = _value("pos_ingest_rejected_total", reason="UNDECODABLE")
    stats = PosIngestConsumer(
        dsn, group_id=f"metrics-{secrets.token_hex(4)}", sales_topic=sales.name,
        heartbeats_topic=heartbeats.name, dead_letter_topic=dead.name,
    ).run(idle_exit_seconds=3.0)

    assert stats.applied == 4  # three sales and the heartbeat
    assert _value("pos_ingest_events_total", topic=sales.name, outcome="applied") == applied + 3
    assert _value("pos_ingest_events_total", topic=heartbeats.name, outcome="applied") == 1
    assert _value("pos_ingest_events_total", topic=sales.name, outcome="rejected") == 1
    assert _value("pos_ingest_rejected_total", reason="UNDECODABLE") == undecodable + 1
    # Caught up: every partition it fetched from is measured, at zero lag.
    lags = {(labels["topic"], labels["partition"]): s.value
            for family in REGISTRY.collect() if family.name == "pos_ingest_consumer_lag_messages"
            for s in family.samples for labels in [s.labels]
            if labels["topic"] in (sales.name, heartbeats.name)}
    assert lags and set(lags.values()) == {0}
    assert (heartbeats.name, "0") in lags
