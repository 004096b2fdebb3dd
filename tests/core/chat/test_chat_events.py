"""A chat message's events on the real stack: notify.chat through the outbox, the relay
and Kafka to the notifications worker, which e-mails `chat_new_message` (with the sender's
name and the preview read at delivery) to the shop's seller in Mailpit; and the
`chat_started` behavioural event on an analytics.raw stand-in topic."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.settings import get_settings
from marketplace_core.accounts import pseudonyms
from marketplace_core.behaviour.intake import EventIntake
from marketplace_core.chat.analytics import publish_started
from marketplace_core.db import transaction
from marketplace_core.notifications.channels import (
    Providers,
    SimulatedPush,
    SimulatedSms,
    SmtpEmailProvider,
)
from marketplace_core.notifications.worker import NotificationsWorker, end_offsets
from marketplace_core.outbox.relay import OutboxRelay
from schemas.topics import ANALYTICS_RAW, NOTIFY_TOPICS
from tests.core.behaviour.conftest import read_topic
from tests.core.chat.conftest import World, open_chat, send
from tests.core.notifications.conftest import mailbox
from tests.stand_in_topics import stand_in_topic

pytestmark = pytest.mark.usefixtures("kafka")


@pytest.fixture(scope="module")
def mailpit() -> str:
    from infra.services.mailpit import Mailpit

    svc = Mailpit()
    if not svc.health().ok:
        svc.install()
        svc.start()
    return get_settings().mailpit_url


def test_a_message_reaches_the_sellers_mailbox(api: Any, chat_dsn: str, world: World,
                                               mailpit: str) -> None:
    worker = NotificationsWorker(
        chat_dsn, group_id=f"chat-test-{secrets.token_hex(4)}",
        providers=Providers(SimulatedPush(), SmtpEmailProvider(), SimulatedSms()),
        topics=NOTIFY_TOPICS, start_offsets=end_offsets())
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert worker.assigned.wait(60), "the worker got no partitions"
        opened = open_chat(api, world.buyer, world.shop_id,
                           text="Здравствуйте! Есть ли  синий  шарф?")
        OutboxRelay(chat_dsn).run(until_idle=True)
        [mail] = mailbox(world.seller.email, timeout=60)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert mail["Subject"] == "Новое сообщение от «Test buyer»"
    assert "Здравствуйте! Есть ли синий шарф?" in mail["Text"]
    assert f"/chat/conversations/{opened['conversation']['id']}" in mail["Text"]


@pytest.fixture(scope="module")
def raw_topic() -> Iterator[str]:
    with stand_in_topic(ANALYTICS_RAW, "chat.analytics.raw") as name:
        yield name


def test_chat_started_is_a_behavioural_event(api: Any, world: World, raw_topic: str) -> None:
    pool = api.app.state.pool
    with transaction(pool) as conn:  # earlier tests' conversations are not this test's
        conn.execute("update chat_conversations set started_event_at = now()")
    shop = open_chat(api, world.buyer, world.shop_id, surface="map")["conversation"]
    answer = api.post("/chat/conversations", headers={**world.buyer.headers,
                                                      "X-Session-Id": "sess-42"},
                      json={"shop_id": str(world.shop_id), "product_id": str(world.product_id),
                            "surface": "search"})
    product = answer.json()["conversation"]
    with transaction(pool) as conn:
        conn.execute("update users set analytics_opt_out = true where id = %s",
                      (world.other_buyer.id,))
    quiet = open_chat(api, world.other_buyer, world.shop_id)["conversation"]
    send(api, world.buyer, shop["id"], "ещё сообщение")  # messages start nothing new
    intake = EventIntake(raw_topic=raw_topic, bad_topic=raw_topic)
    try:
        with transaction(pool) as conn:
            assert publish_started(conn, intake) == 3
        with transaction(pool) as conn:
            assert publish_started(conn, intake) == 0  # once
            pseudo = pseudonyms.pseudonym(conn, world.buyer.id)
    finally:
        intake.close()
    records = {r.value["event_id"]: r.value for r in read_topic(raw_topic)}
    assert set(records) == {shop["id"], product["id"]}  # the opted-out buyer's is not sent
    assert quiet["id"] not in records
    first, second = records[shop["id"]], records[product["id"]]
    assert (first["event_type"], first["target_type"], first["target_id"], first["surface"]) \
        == ("chat_started", "shop", str(world.shop_id), "map")
    assert (second["target_type"], second["target_id"], second["surface"],
            second["session_id"]) == ("product", str(world.product_id), "search", "sess-42")
    assert first["user_pseudo_id"] == pseudo and str(world.buyer.id) not in str(first)
    assert abs(first["occurred_at"].timestamp() - datetime.now(UTC).timestamp()) < 300
