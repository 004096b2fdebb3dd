"""The lakehouse spine end to end, on the real services, with faults.

A POS shop's terminal sends sales (with a discount), a refund, a void, a standalone
discount, a cash movement, a duplicate and a forged signature over Kafka, and one sale over
HTTP; an online shop sells two paid orders and refunds one. The core applies what it
accepts and publishes it (core.pos_receipts, core.orders, ...) through its outbox. The
landing job is SIGKILLed mid-batch twice (each batch spans several topics), restarted,
and finished; dbt builds the marts; `reconcile` then finds every figure equal across
PostgreSQL, Kafka, Delta, the marts and the serving API, to the tyiyn. The last test deletes
the lake and replays it from Kafka: identical marts.

The same world carries the social scenario (tests/integration/explore_scenario.py): posts
and engagement sent through the core API land with everything else, and the ranking built
from them reorders Explore, and the analysts' notebooks run on the lake and marts; and the
ads scenario (tests/integration/ads_scenario.py): a CPC boost served in Explore, its
impressions and clicks (with a robot, a replay, the seller's own and a forged token) billed
from the lake exactly once, read back in the seller's report, the wallet statement and the
reconciliation. Tests run in file order: the first lands and builds, the last deletes and
replays the lake.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastapi.testclient import TestClient

from infra.settings import REPO_ROOT, get_settings
from marketplace_core.api.app import create_app
from marketplace_core.migrate import apply_migrations
from marketplace_core.orders import service as orders
from marketplace_core.orders.service import OrderRequest
from marketplace_core.payments import refunds, service, simulator
from marketplace_core.payments.webhooks import receive_psp_webhook, sign
from marketplace_core.pos.credentials import DeviceCredentials
from pipelines.lake_catalog import LAKE_TABLES
from schemas.registry import register, registry_client
from schemas.topics import POS_HEARTBEATS, POS_SALES, Topic, schema_str
from tests.core.test_orders_support import make_buyer, make_online_shop, make_variant
from tests.core.test_payments_flow import make_admin
from tests.core.test_pos_ingest_support import make_device, till_event
from tests.integration.ads_scenario import AdWorld, check_billed, run_campaign
from tests.integration.apps import core_api, serving_api
from tests.integration.explore_scenario import ExplorePosts, check_reordered, send_engagement

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

D = Decimal


@dataclass
class Spine:
    env: dict[str, str]
    dsn: str
    pos_shop: uuid.UUID
    online_shop: uuid.UUID
    serving_url: str
    log_dir: Path
    core: Any  # the core API in process (TestClient)
    posts: ExplorePosts
    ads: AdWorld

    def run(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=REPO_ROOT,
                              env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=timeout)


@contextlib.contextmanager
def patched_env(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
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


# --- the world ---------------------------------------------------------------------------------

def _pos_events(creds: DeviceCredentials, v1: uuid.UUID, v2: uuid.UUID
                ) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(events over Kafka incl. a duplicate, a forged one, the HTTP upload)."""
    seq = iter(range(1, 100))
    s1 = till_event(creds, [(v1, 2, "1500.00"), (v2, 1, "350.50")], discount_amount="100.00",
                    sequence_number=next(seq))
    s2 = till_event(creds, [(v2, 3, "350.50")], sequence_number=next(seq))
    refund = till_event(creds, [(v2, 1, "350.50")], event_type="refund",
                        original_receipt_number=s2["receipt_number"], sequence_number=next(seq))
    s3 = till_event(creds, [(v1, 1, "1500.00")], sequence_number=next(seq))
    void = till_event(creds, [], event_type="void", original_receipt_number=s3["receipt_number"],
                      total=None, sequence_number=next(seq))
    discount = till_event(creds, [], event_type="discount", discount_amount="50.00",
                          sequence_number=next(seq))
    cash = till_event(creds, [], event_type="cash_in", cash_amount="1000.00", total=None,
                      sequence_number=next(seq))
    forged = till_event(creds, [(v1, 1, "1500.00")], secret="not-the-device-secret",
                        sequence_number=next(seq))
    http = till_event(creds, [(v1, 1, "1500.00")], sequence_number=next(seq))
    busy = [till_event(creds, [(v2, 1, "350.50")], sequence_number=100 + n)
            for n in range(BUSY_SALES)]
    return [s1, s2, refund, s3, void, discount, cash, s1, forged, *busy], forged, http


# A busy till besides: enough receipts (and stock events) for the landing to need several
# small batches, so it can be killed in the middle of one.
BUSY_SALES = 400
# Hand-computed: gross 3000 + 350.50 + 1051.50 + 1500 + 1500 (HTTP) + the busy sales;
# discounts 100 + 50; refunds 350.50; voids 1500 (the voided sale).
POS_EXPECTED = {"pos_gross": D("7402.00") + BUSY_SALES * D("350.50"),
                "pos_discounts": D("150.00"), "pos_refunds": D("350.50"),
                "pos_voids": D("1500.00"), "pos_net": D("5401.50") + BUSY_SALES * D("350.50")}
ONLINE_PRICE = D("1999.99")
ONLINE_EXPECTED = {"online_gross": 2 * ONLINE_PRICE, "online_refunds": ONLINE_PRICE,
                   "online_net": ONLINE_PRICE}


def _send_over_kafka(topic: Topic, creds: DeviceCredentials,
                     events: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": get_settings().kafka_bootstrap_servers,
                         "enable.idempotence": True, "acks": "all"})
    serialize = AvroSerializer(registry_client(), schema_str(POS_SALES),
                               conf={"auto.register.schemas": False})
    for event in events:
        producer.produce(topic.name, key=creds.device_id.encode(),
                         value=serialize(event, SerializationContext(topic.name,
                                                                     MessageField.VALUE)),
                         headers=[("device-token", creds.token.encode())])
    assert producer.flush(30) == 0


def _online_sales(dsn: str, now: datetime) -> uuid.UUID:
    with psycopg.connect(dsn) as conn, conn.transaction():
        admin = make_admin(conn)
        _, shop_id, _ = make_online_shop(conn, now)
        variant = make_variant(conn, shop_id, price=ONLINE_PRICE, stock=5)
    paid: list[uuid.UUID] = []
    for _ in range(2):
        with psycopg.connect(dsn) as conn, conn.transaction():
            buyer = make_buyer(conn)
            order = orders.place_order(conn, buyer, OrderRequest.of(
                shop_id, [(variant, 1)], "delivery", delivery_address="Bishkek, Chui 1")).order
            from marketplace_core.accounts.principal import AuthenticatedUser

            payment = service.start_payment(conn, order.id,
                                            AuthenticatedUser(buyer, "buyer")).payment
            sim = simulator.buyer_completes(conn, payment.psp_payment_id, "paid")
            body = simulator.webhook_body(sim)
            assert receive_psp_webhook(conn, body, sign(body)).outcome != "ignored"
            paid.append(order.id)
    with psycopg.connect(dsn) as conn, conn.transaction():
        refunds.request_refund(conn, paid[0], admin, amount=ONLINE_PRICE)
    return shop_id


def _wait(what: str, done: Callable[[], bool], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def spine(make_database: Callable[[], str],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spine]:
    run = uuid.uuid4().hex[:10]
    logs = tmp_path_factory.mktemp("spine-logs")
    dsn = make_database()
    apply_migrations(dsn)
    env = {"POSTGRES_DSN": dsn, "LAKE_PREFIX": f"test/{run}",
           "WAREHOUSE_PATH": str(tmp_path_factory.mktemp("warehouse")),
           "CORE_PSP_PROVIDER": "simulator"}
    suffix = secrets.token_hex(4)
    sales = Topic(f"{POS_SALES.name}.test-{suffix}", POS_SALES.key, POS_SALES.schema_file, 2,
                  3_600_000)
    beats = Topic(f"{POS_HEARTBEATS.name}.test-{suffix}", POS_HEARTBEATS.key,
                  POS_HEARTBEATS.schema_file, 1, 3_600_000)
    admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    for fut in admin.create_topics([NewTopic(t.name, num_partitions=t.partitions,
                                             replication_factor=1)
                                    for t in (sales, beats)]).values():
        fut.result(timeout=30)
    register(sales)

    with open(logs / "relay.log", "ab") as out:
        relay = subprocess.Popen([sys.executable, "-m", "marketplace_core.outbox.relay"],
                                 cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        with psycopg.connect(dsn) as conn, conn.transaction():
            from tests.core.test_orders_support import make_shop

            _, pos_shop = make_shop(conn)
            v1 = make_variant(conn, pos_shop, price=D("1500.00"), stock=100)
            v2 = make_variant(conn, pos_shop, price=D("350.50"), stock=1000)
            creds = make_device(conn, pos_shop)
        kafka_events, forged, http_event = _pos_events(creds, v1, v2)
        _send_over_kafka(sales, creds, kafka_events)
        ingest = subprocess.run(
            [sys.executable, "-m", "marketplace_core.pos.consumer", "--until-idle",
             "--idle-seconds", "5", "--group", f"test-lake-{run}", "--sales-topic", sales.name,
             "--heartbeats-topic", beats.name],
            cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True,
            timeout=300)
        assert ingest.returncode == 0, ingest.stderr[-3000:]
        assert f"applied={7 + BUSY_SALES} duplicates=1 rejected=1" in ingest.stdout, (
            ingest.stdout)
        with core_api(env, logs / "core-api.log") as core_url:
            r = httpx.post(f"{core_url}/pos/sales", json=json.loads(json.dumps(
                http_event, default=str)), headers={"Authorization": f"Bearer {creds.token}"},
                timeout=30)
            assert r.status_code == 200, r.text
        online_shop = _online_sales(dsn, now)
        assert forged["receipt_number"]
        # The whole module runs under this world's settings (the core app in process, the
        # Dagster asset, the lake readers).
        with patched_env(env), TestClient(create_app(dsn, run_sweeper=False)) as core:
            posts = send_engagement(core)
            ads = run_campaign(core)
            _wait("the outbox to drain", lambda: _count(
                dsn, "select count(*) from outbox where published_at is null") == 0)
            with serving_api(env, logs / "serving-api.log") as url:
                yield Spine(env=env, dsn=dsn, pos_shop=pos_shop, online_shop=online_shop,
                            serving_url=url, log_dir=logs, core=core, posts=posts,
                            ads=ads)
    finally:
        relay.terminate()
        relay.wait(15)
        for fut in admin.delete_topics([sales.name, beats.name]).values():
            with contextlib.suppress(Exception):
                fut.result(timeout=30)
        _delete_prefix(env["LAKE_PREFIX"])


def _delete_prefix(prefix: str) -> int:
    from infra.services.minio import s3_client

    s3 = s3_client()
    bucket = get_settings().lake_bucket
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                             Prefix=prefix + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            deleted += len(keys)
    return deleted


# --- landing with faults ---------------------------------------------------------------------

# The killed runs land a few topics (each batch spans all of them); the last run, all.
KILLED_TABLES = "core_pos_receipts,core_orders,core_variants,pos_dead_letter"


def _kill_mid_batch(spine: Spine, after_batches: int) -> None:
    """Continuous landing, small batches; SIGKILL while the `after_batches`-th batch
    (spanning several topics) is being written."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pipelines.landing", "--trigger-seconds", "1",
         "--max-offsets-per-trigger", "300", "--tables", KILLED_TABLES],
        cwd=REPO_ROOT, env={**os.environ, **spine.env}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    seen = 0
    deadline = time.monotonic() + 900
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if " batch " in line and " started: " in line:  # "<table> batch N started: …"
                seen += 1
                if seen >= after_batches:
                    time.sleep(1.5)  # into the batch's writes, several topics in flight
                    break
            assert time.monotonic() < deadline, "landing made no progress"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert seen >= after_batches, f"only {seen} batch(es) before the job ended"


REPLAYED = ("core_pos_receipts", "core_orders")


def _land_all(spine: Spine, tables: tuple[str, ...] = ()) -> dict[str, Any]:
    only = ("--tables", ",".join(tables)) if tables else ()
    out = spine.run("-m", "pipelines.landing", "--available-now", *only)
    assert out.returncode == 0, out.stderr[-4000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _refresh(spine: Spine, *args: str) -> None:
    r = httpx.post(f"{spine.serving_url}/internal/refresh", json={"args": ["build", *args]},
                   headers={"X-Internal-Token": get_settings().internal_token}, timeout=900)
    assert r.status_code == 200, r.text
    body = r.json()
    failed = [n for n in body["nodes"] if n["status"] not in ("success", "pass")]
    assert body["success"] and not failed, failed or body


def _mart_rows(spine: Spine, shop: uuid.UUID) -> list[dict[str, Any]]:
    r = httpx.get(f"{spine.serving_url}/internal/marts/shop_metric_daily",
                  params={"shop_id": str(shop)},
                  headers={"X-Internal-Token": get_settings().internal_token}, timeout=60)
    assert r.status_code == 200, r.text
    # Technical columns (the incremental watermark `_ingested_through`) record when rows
    # were landed, which a replay changes; every business column must be identical.
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in r.json()["rows"]]


def _bronze_unique(spine: Spine, tables: tuple[str, ...] = ()) -> None:
    from warehouse.lake import query

    with patched_env(spine.env):
        for t in (t for t in LAKE_TABLES if not tables or t.name in tables):
            [(rows, distinct)] = query(
                f"SELECT count(), uniqExact(topic, partition, offset) FROM {{bronze:{t.name}}}")
            assert rows == distinct, f"bronze {t.name}: {rows} rows, {distinct} offsets"
            [(rows, distinct)] = query(
                f"SELECT count(), uniqExact({t.dedup_key}) FROM {{silver:{t.name}}}")
            assert rows == distinct, f"silver {t.name}: {rows} rows, {distinct} keys"


def test_killed_landing_then_reconcile_finds_no_difference(spine: Spine) -> None:
    _kill_mid_batch(spine, after_batches=1)
    _kill_mid_batch(spine, after_batches=2)
    landed = _land_all(spine)
    assert landed["records"] >= 0
    _bronze_unique(spine)

    from warehouse.lake import query

    with patched_env(spine.env):
        # refused till events stay visible with their reason
        reasons = query("SELECT reason_code, count() FROM {silver:pos_dead_letter} "
                        "WHERE device_id IN (SELECT device_id FROM {silver:core_pos_receipts} "
                        "WHERE shop_id = {shop:String}) GROUP BY reason_code",
                        {"shop": str(spine.pos_shop)})
        assert ("BAD_SIGNATURE", 1) in reasons
        [(applied,)] = query("SELECT count() FROM {silver:core_pos_receipts} "
                             "WHERE shop_id = {shop:String}", {"shop": str(spine.pos_shop)})
        # 7 + the busy ones over Kafka (duplicate and forged refused) + 1 over HTTP
        assert applied == 8 + BUSY_SALES

    _refresh(spine)
    for shop, expected in ((spine.pos_shop, POS_EXPECTED),
                           (spine.online_shop, ONLINE_EXPECTED)):
        rows = _mart_rows(spine, shop)
        totals = {k: sum((D(r[k]) for r in rows), D("0.00")) for k in expected}
        assert totals == expected, rows

    from orchestration.reconcile import reconcile

    with patched_env({**spine.env,
                      "SERVING_API_PORT": spine.serving_url.rsplit(":", 1)[1]}):
        for shop in (spine.pos_shop, spine.online_shop):
            assert reconcile(shop) == 0


def test_engagement_landed_in_the_lake_reorders_explore(spine: Spine) -> None:
    """Runs on the marts the first test built (tests/integration/explore_scenario.py)."""
    check_reordered(spine.core, spine.serving_url, spine.posts)


def test_ads_are_billed_from_the_lake_once(spine: Spine) -> None:
    """Runs on the marts the first test built (tests/integration/ads_scenario.py)."""
    check_billed(spine.core, spine.serving_url, spine.ads)


def test_analysts_notebooks_run_on_the_lake(spine: Spine, tmp_path: Path) -> None:
    """Last, on the lake and marts the tests above built: every notebook in notebooks/
    top to bottom (each checks the warehouse against the lake and itself), as an analyst
    reads them: the serving API's read-only SQL with an analyst's token, Delta through
    polars under this lake's prefix."""
    from tests.integration.notebooks import analyst_token, run_notebooks

    outputs = run_notebooks({"SERVING_API_URL": spine.serving_url,
                             "ANALYST_TOKEN": analyst_token(spine.dsn),
                             "LAKE_PREFIX": spine.env["LAKE_PREFIX"]}, tmp_path)
    assert len(outputs) == 5
    # the spine's online shop: two paid orders, one refunded (and whatever else the
    # shared broker held when the lake was landed)
    assert " paid (" in outputs["order_funnel"]


def test_replaying_the_lake_from_kafka_gives_identical_marts(spine: Spine) -> None:
    before = {shop: _mart_rows(spine, shop) for shop in (spine.pos_shop, spine.online_shop)}
    assert all(before.values())
    assert _delete_prefix(spine.env["LAKE_PREFIX"]) > 0
    # Only what is compared (the first test landed, built and tested everything): the
    # tables `shop_metric_daily` reads (`dbt ls --select +shop_metric_daily
    # --resource-type source`), and that model's lineage.
    _land_all(spine, REPLAYED)
    _bronze_unique(spine, REPLAYED)
    _refresh(spine, "--full-refresh", "--select", "+shop_metric_daily")
    after = {shop: _mart_rows(spine, shop) for shop in before}
    assert after == before
