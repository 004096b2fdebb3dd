"""The whole path on the real stack: a domain change → outbox → relay → notify.* in Kafka
(Avro) → the worker → real SMTP → the recipient's mailbox in Mailpit, read back over its
HTTP API. The worker runs as the service does (its consumer and dispatcher threads)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from marketplace_core.db import transaction
from marketplace_core.notifications.channels import Providers
from marketplace_core.notifications.worker import NotificationsWorker, end_offsets
from marketplace_core.orders import pickup
from marketplace_core.orders import service as orders
from marketplace_core.orders.service import OrderRequest
from marketplace_core.outbox.relay import OutboxRelay
from marketplace_core.pos import service as pos
from marketplace_core.pos.status import sweep_offline_devices
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.core.notifications.conftest import mailbox
from tests.core.test_orders_support import make_variant, register_device

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def running_worker(notify_dsn: str, api: Any, mailpit: str) -> Iterator[NotificationsWorker]:
    def post(provider: str, body: bytes, headers: dict[str, str]) -> None:
        api.post(f"/notifications/webhook/{provider}", content=body, headers=headers)

    from marketplace_core.notifications.channels import (
        SimulatedPush,
        SimulatedSms,
        SmtpEmailProvider,
    )

    worker = NotificationsWorker(
        notify_dsn, group_id=f"notify-test-{datetime.now(UTC).timestamp()}",
        providers=Providers(SimulatedPush(callback=post), SmtpEmailProvider(),
                            SimulatedSms(callback=post)),
        start_offsets=end_offsets())
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    assert worker.assigned.wait(60), "the worker got no partitions"
    yield worker
    stop.set()
    thread.join(timeout=30)


def _relay(dsn: str) -> None:
    OutboxRelay(dsn).run(until_idle=True)


def test_order_ready_for_pickup_reaches_the_buyers_mailbox(
        api: Any, notify_dsn: str, running_worker: NotificationsWorker) -> None:
    seller, _merchant, shop_id = make_seller_with_shop(api)
    buyer = make_user(api, "buyer")
    now = datetime.now(UTC)
    with transaction(api.app.state.pool) as conn:
        device = register_device(conn, shop_id)
        pos.record_heartbeat(conn, device, now=now)
        variant = make_variant(conn, shop_id, price=Decimal("1250.00"))
        slot = pickup.create_slot(conn, shop_id, starts_at=now + timedelta(hours=2),
                                  ends_at=now + timedelta(hours=3), capacity=5, now=now).id
        order = orders.place_order(conn, buyer.id, OrderRequest.of(
            shop_id, [(variant, 1)], "pickup", pickup_slot_id=slot), now=now).order
        from uuid import uuid4
        orders.mark_paid(conn, order.id, payment_id=uuid4(), now=now)
    r = api.post(f"/orders/{order.id}/ready-for-pickup", headers=seller.headers)
    assert r.status_code == 200, r.text
    again = api.post(f"/orders/{order.id}/ready-for-pickup", headers=seller.headers)
    assert again.status_code == 200  # told once: the repeat announces nothing
    _relay(notify_dsn)
    ready = [m for m in mailbox(buyer.email, expect=2, timeout=60)
             if "готов к выдаче" in m["Subject"]]
    assert len(ready) == 1, [m["Subject"] for m in mailbox(buyer.email, timeout=1)]
    short = str(order.id)[:8].upper()
    assert ready[0]["Subject"] == f"Заказ {short} готов к выдаче"
    assert "Bishkek, Dordoi market" in ready[0]["Text"]
    # the shop's manager heard of the new order too
    created = mailbox(seller.email, timeout=30)
    assert any(m["Subject"].startswith(f"Новый заказ {short}") for m in created)


def test_a_silent_pos_terminal_tells_the_shops_seller(
        api: Any, notify_dsn: str, running_worker: NotificationsWorker) -> None:
    seller, _merchant, shop_id = make_seller_with_shop(api)
    now = datetime.now(UTC)
    with transaction(api.app.state.pool) as conn:
        device = register_device(conn, shop_id)
        pos.record_heartbeat(conn, device, now=now - timedelta(minutes=11))
    with transaction(api.app.state.pool) as conn:
        # the sweep, 11 minutes after the last heartbeat (timeout 10 min)
        assert sweep_offline_devices(conn, now=now) >= 1
    _relay(notify_dsn)
    [message] = mailbox(seller.email, timeout=60)
    assert message["Subject"].startswith("Касса в «Shop ")
    assert device in message["Text"] and "больше 10 минут" in message["Text"]
    # back online: a second message, "снова на связи"
    with transaction(api.app.state.pool) as conn:
        pos.record_heartbeat(conn, device, now=datetime.now(UTC))
    _relay(notify_dsn)
    both = mailbox(seller.email, expect=2, timeout=60)
    with transaction(api.app.state.pool) as conn:
        log_rows = conn.execute("select event_type, channel, status, last_error"
                                " from notification_log where shop_id = %s", (shop_id,)).fetchall()
    assert any("снова на связи" in m["Subject"] for m in both), \
        ([m["Subject"] for m in both], log_rows)


def test_the_demo_scene_prints_the_mailbox_address(
        notify_dsn: str, running_worker: NotificationsWorker, mailpit: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.settings import get_settings
    from marketplace_core.notifications.demo import pos_offline_scene

    monkeypatch.setenv("POSTGRES_DSN", notify_dsn)  # the scene uses the settings' database
    get_settings.cache_clear()
    stop = threading.Event()
    relay = threading.Thread(target=OutboxRelay(notify_dsn).run, args=(stop,), daemon=True)
    relay.start()
    try:
        scene = pos_offline_scene(timeout=90)
    finally:
        stop.set()
        relay.join(timeout=30)
        monkeypatch.delenv("POSTGRES_DSN")
        get_settings.cache_clear()
    assert scene.subject == f"Касса в «{scene.shop_name}» не на связи"
    assert scene.mailbox_url.startswith(f"{mailpit}/view/")
    assert httpx.get(scene.mailbox_url, timeout=5).status_code == 200


def test_garbage_on_the_topic_is_skipped_and_the_stream_goes_on(
        api: Any, notify_dsn: str, mailpit: str) -> None:
    """A record that is not Avro, then a good one, on a throw-away topic with the
    notify.order schema: the first is logged and skipped, the second delivered."""
    import io
    import json
    import secrets
    from uuid import uuid4

    import fastavro
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from confluent_kafka.schema_registry import Schema

    from infra.settings import get_settings
    from marketplace_core.notifications.channels import (
        SimulatedPush,
        SimulatedSms,
        SmtpEmailProvider,
    )
    from schemas.registry import registry_client
    from schemas.topics import NOTIFY_ORDER, Topic, schema_str

    buyer = make_user(api, "buyer")
    servers = get_settings().kafka_bootstrap_servers
    name = f"test.notify_order.{secrets.token_hex(4)}"
    admin = AdminClient({"bootstrap.servers": servers})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(30)
    try:
        schema_id = registry_client().lookup_schema(
            NOTIFY_ORDER.subject, Schema(schema_str(NOTIFY_ORDER), "AVRO")).schema_id
        assert schema_id is not None
        body = io.BytesIO()
        fastavro.schemaless_writer(body, fastavro.parse_schema(json.loads(
            schema_str(NOTIFY_ORDER))), {
            "event_id": str(uuid4()), "event_type": "order_created",
            "occurred_at": datetime.now(UTC), "audience": "user",
            "recipient_user_id": str(buyer.id), "recipient_shop_id": None, "shop_id": None,
            "entity_type": "order", "entity_id": str(uuid4()), "priority": "normal",
            "consent": "transactional",
            "data_json": json.dumps({"orderId": "GOODONE1", "total": "10.00",
                                     "shopName": "Бермет", "ts": "2031-03-04T04:00:00"})})
        producer = Producer({"bootstrap.servers": servers})
        producer.produce(name, key=b"x", value=b"\xff not avro at all")
        producer.produce(name, key=b"x", value=b"\x00" + schema_id.to_bytes(4, "big")
                         + body.getvalue())
        producer.flush(10)
        worker = NotificationsWorker(
            notify_dsn, topics=[Topic(name=name, key="x", schema_file=NOTIFY_ORDER.schema_file,
                                      partitions=1, retention_ms=3_600_000)],
            group_id=f"notify-garbage-{secrets.token_hex(4)}",
            providers=Providers(SimulatedPush(), SmtpEmailProvider(), SimulatedSms()))
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            [message] = mailbox(buyer.email, timeout=60)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert message["Subject"] == "Заказ GOODONE1 оформлен"
        assert worker.stats.skipped == 1 and worker.stats.consumed == 2
    finally:
        admin.delete_topics([name])[name].result(30)
