"""The core end to end, as real processes: the API under uvicorn, the outbox relay, Kafka.

A seller opens a shop over HTTP, its terminal reports in, 50 buyers race for the last
unit, the winner pays through the PSP simulator (which calls our webhook over HTTP), the
seller is paid out; then every change is read back from Kafka, Avro-decoded through the
registry, and checked: once each, in order per entity, with exact amounts.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from infra.settings import REPO_ROOT, get_settings
from marketplace_core.db import open_pool, transaction
from marketplace_core.migrate import apply_migrations
from marketplace_core.pos.service import register_device
from schemas.registry import registry_client
from schemas.topics import (
    CORE_ORDERS,
    CORE_PAYMENTS,
    CORE_PAYOUTS,
    CORE_SHOP_ELIGIBILITY,
    CORE_TOPICS,
    CORE_VARIANTS,
    Topic,
)
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.test_outbox_relay import _published, _source_id, _unpublished
from tests.integration.apps import core_api

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

BUYERS = 50


class _LiveClient(httpx.Client):
    """An HTTP client of the running API that the auth test helpers can use (they reach
    the database through `client.app.state.pool` to set users up quickly)."""

    def __init__(self, base_url: str, pool: Any) -> None:
        super().__init__(base_url=base_url, timeout=30)
        self.app = SimpleNamespace(state=SimpleNamespace(pool=pool))


@pytest.fixture
def live_core(make_database: Callable[[], str],
              tmp_path: Path) -> Iterator[tuple[_LiveClient, str]]:
    dsn = make_database()
    apply_migrations(dsn)
    env = {"POSTGRES_DSN": dsn, "CORE_PSP_PROVIDER": "simulator"}
    log = tmp_path / "core.log"
    with open(log, "ab") as out:
        relay = subprocess.Popen([sys.executable, "-m", "marketplace_core.outbox.relay"],
                                 cwd=REPO_ROOT, env={**os.environ, **env}, stdout=out,
                                 stderr=subprocess.STDOUT)
    pool = open_pool(dsn, max_size=4)
    try:
        with core_api(env, log) as url, _LiveClient(url, pool) as client:
            yield client, dsn
        assert relay.poll() is None, log.read_text()[-3000:]
    finally:
        relay.terminate()
        try:
            relay.wait(15)
        except subprocess.TimeoutExpired:
            relay.kill()
        pool.close()


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _decoded(topic: Topic, source_id: str) -> list[dict[str, Any]]:
    decode = AvroDeserializer(registry_client())
    ctx = SerializationContext(topic.name, MessageField.VALUE)
    out = []
    for message in _published(topic, source_id):
        record = decode(message["value"], ctx)
        assert record is not None
        out.append({**message, "record": record})
    return out


def _by_key(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in sorted(messages, key=lambda m: (m["partition"], m["offset"])):
        grouped[m["key"]].append(m["record"])
    return grouped


def test_last_unit_race_payment_and_payout_reach_kafka_once_in_order(
    live_core: tuple[_LiveClient, str],
) -> None:
    client, dsn = live_core
    seller, merchant_id, shop_id = make_seller_with_shop(client)

    product = _ok(client.post(f"/shops/{shop_id}/products", headers=seller.headers, json={
        "name": {"ru": "Калпак ак, ручная работа", "ky": "Ак калпак"},
        "variants": [{"sku": f"KALPAK-{secrets.token_hex(3)}", "price": "1999.99",
                      "stock_qty": 1, "attributes": {"size": "58"}}]}), 201)
    variant_id = product["variants"][0]["id"]

    # The shop becomes eligible: payout account on, terminal heard from.
    _ok(client.post(f"/merchants/{merchant_id}/payout/onboard", headers=seller.headers,
                    json={"provider": "mbank", "account_number": "+996700123456"}))
    with transaction(client.app.state.pool) as conn:
        device_id = register_device(
            conn, f"POS-{secrets.randbelow(10**8):08d}", UUID(str(shop_id))).id
    _ok(client.post(f"/pos/devices/{device_id}/heartbeat", json={"firmware": "2.4.1"},
                    headers={"X-Internal-Token": get_settings().internal_token}))
    assert _ok(client.get(f"/shops/{shop_id}/eligibility"))["mode"] == "online_purchase"

    # 50 buyers race for the one unit, over real HTTP against two API workers.
    buyers = [make_user(client, "buyer") for _ in range(BUYERS)]
    start = threading.Barrier(BUYERS)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def buy(buyer: Any) -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as own:
            start.wait(30)
            response = own.post("/orders", headers={**buyer.headers,
                                                    "Idempotency-Key": secrets.token_hex(8)},
                                json={"shop_id": str(shop_id), "fulfilment": "delivery",
                                      "delivery_address": "Бишкек, ул. Токтогула 1",
                                      "items": [{"variant_id": variant_id, "qty": 1}]})
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=buy, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 1, 409: BUYERS - 1}, statuses
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {
        "OUT_OF_STOCK"}
    [won] = [r.json() for r in answers if r.status_code == 201]
    winner = next(b for b in buyers if str(b.id) == won["buyer_id"])
    order_id = won["id"]
    assert Decimal(won["total"]) == Decimal("1999.99")

    # Pay through the simulator: it signs and posts the webhook to the API over HTTP.
    payment = _ok(client.post(f"/orders/{order_id}/payments", headers=winner.headers), 201)
    _ok(client.post(f"/psp-sim/payments/{payment['psp_payment_id']}/pay"))
    assert _ok(client.get(f"/orders/{order_id}", headers=winner.headers))["status"] == "paid"
    [payout] = _ok(client.get(f"/merchants/{merchant_id}/payouts", headers=seller.headers))
    assert Decimal(payout["amount"]) == Decimal("1959.99")  # 1999.99 - 2% fee, take rate 0

    # Everything reaches Kafka: wait for the relay to drain the outbox.
    deadline = time.monotonic() + 60
    while _unpublished(dsn):
        assert time.monotonic() < deadline, "relay did not drain the outbox"
        time.sleep(0.3)
    source = _source_id(dsn)
    with psycopg.connect(dsn) as conn:  # the core's change streams (notify.* are asks)
        row = conn.execute("select count(*) from outbox where topic like 'core.%'").fetchone()
    outbox_rows = row[0] if row else -1
    published = {t.name: _decoded(t, source) for t in CORE_TOPICS}
    all_ids = [m["event_id"] for msgs in published.values() for m in msgs]
    assert len(all_ids) == outbox_rows == len(set(all_ids))

    orders = _by_key(published[CORE_ORDERS.name])
    assert [r["event_type"] for r in orders[order_id]] == ["order.created", "order.paid"]
    assert orders[order_id][-1]["total"] == Decimal("1999.99")
    assert len(orders) == 1  # the 49 refused buyers left no order behind

    stock = [(r["event_type"], r["stock_qty"], r["reason"])
             for r in _by_key(published[CORE_VARIANTS.name])[variant_id]]
    assert stock == [("variant.created", 1, None), ("variant.stock_changed", 0, "reservation")]

    [payments] = _by_key(published[CORE_PAYMENTS.name]).values()
    assert [(r["event_type"], r["amount"]) for r in payments] == [
        ("payment.created", Decimal("1999.99")), ("payment.succeeded", Decimal("1999.99"))]
    assert payments[-1]["acquiring_fee"] == Decimal("40.00")
    [[sent]] = _by_key(published[CORE_PAYOUTS.name]).values()
    assert (sent["event_type"], sent["amount"]) == ("payout.sent", Decimal("1959.99"))

    modes = [r["mode"] for r in _by_key(published[CORE_SHOP_ELIGIBILITY.name])[str(shop_id)]]
    assert modes[-1] == "online_purchase"
