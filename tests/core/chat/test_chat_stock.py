"""Stock and the Buy button on the live channel: a till sale and a terminal going silent
travel as the core's own events (outbox → relay → core.variants / core.shop_eligibility
in Kafka) to an API process's consumer and reach the subscribed socket within 5 s
(seed 000 §24.4)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.asyncio.client import connect

from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from marketplace_core.outbox.relay import OutboxRelay
from marketplace_core.payments import payout_accounts
from marketplace_core.pos import ingest
from marketplace_core.pos import service as pos
from marketplace_core.pos.status import sweep_offline_devices
from tests.core.chat.conftest import World, ws_url
from tests.core.chat.test_chat_live import recv, recv_type
from tests.core.test_pos_ingest_support import make_device, till_event

pytestmark = [pytest.mark.usefixtures("kafka"), pytest.mark.timeout(120)]


def _unpublished(pool: Any) -> int:
    with transaction(pool) as conn:
        row = conn.execute("select count(*) from outbox where published_at is null").fetchone()
    return int(row[0]) if row else 0


def test_a_till_sale_and_a_silent_terminal_reach_the_socket(
        api: Any, chat_dsn: str, world: World, servers: tuple[str, str]) -> None:
    a, _ = servers
    pool = api.app.state.pool
    with transaction(pool) as conn:
        shop = catalog.get_shop(conn, world.shop_id)
        assert shop is not None
        payout_accounts.onboard(conn, shop.merchant_id, provider="mbank",
                                account_number="+996700111222", by_admin=True)
        creds = make_device(conn, world.shop_id)
        pos.record_heartbeat(conn, creds.device_id, now=datetime.now(UTC))
    # the relay runs as the service does (woken by each commit); what happened before the
    # subscription is published first
    stop = threading.Event()
    relay = threading.Thread(target=OutboxRelay(chat_dsn).run, args=(stop,), daemon=True)
    relay.start()
    deadline = time.monotonic() + 60
    while _unpublished(pool):
        assert time.monotonic() < deadline, "the relay did not drain the outbox"
        time.sleep(0.2)

    async def run() -> dict[str, float]:
        async with connect(ws_url(a, world.buyer.access_token)) as ws:
            await recv(ws)  # hello
            await ws.send(json.dumps({"type": "subscribe",
                                      "products": [str(world.product_id)]}))
            sub = await recv_type(ws, "subscribed", 15)
            assert sub["live"] is True
            [product] = sub["products"]
            assert product["variants"][0]["stock_qty"] == 3
            assert sub["shops"] == [{"shop_id": str(world.shop_id), "enabled": True,
                                     "mode": "online_purchase", "reasons": []}]
            started = time.monotonic()
            with transaction(pool) as conn:
                outcome = ingest.apply_till_event(
                    conn, till_event(creds, [(world.variant_id, 2, "100.00")]),
                    token=creds.token, origin=ingest.Origin("http", b"{}"),
                    now=datetime.now(UTC))
            assert outcome.status == "applied", outcome
            while (frame := await recv_type(ws, "stock", 5))["reason"] != "pos_sale":
                continue
            sale_s = time.monotonic() - started
            assert (frame["variant_id"], frame["stock_qty"], frame["in_stock"]) == \
                (str(world.variant_id), 1, True)
            started = time.monotonic()
            with transaction(pool) as conn:  # the sweep, 11 minutes on
                assert sweep_offline_devices(
                    conn, now=datetime.now(UTC) + timedelta(minutes=11)) >= 1
            button = await recv_type(ws, "buy_button", 5)
            offline_s = time.monotonic() - started
            assert (button["shop_id"], button["enabled"], button["reasons"]) == \
                (str(world.shop_id), False, ["POS_INACTIVE"])
            # unsubscribed: no more frames of it
            await ws.send(json.dumps({"type": "unsubscribe",
                                      "products": [str(world.product_id)]}))
            assert (await recv_type(ws, "unsubscribed"))["type"] == "unsubscribed"
            return {"sale_s": sale_s, "offline_s": offline_s}

    try:
        took = asyncio.run(run())
    finally:
        stop.set()
        relay.join(timeout=30)
    print('live latency', took)
    assert took["sale_s"] < 5 and took["offline_s"] < 5, took


def test_subscriptions_are_checked(world: World, servers: tuple[str, str]) -> None:
    a, _ = servers

    async def run() -> None:
        async with connect(ws_url(a, world.buyer.access_token)) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "subscribe",
                                      "products": ["00000000-0000-0000-0000-000000000001"],
                                      "shops": [str(world.shop_id)]}))
            sub = await recv_type(ws, "subscribed", 15)
            assert sub["products"] == [] and [s["shop_id"] for s in sub["shops"]] == [
                str(world.shop_id)]
            err = await recv_type(ws, "error")
            assert err["code"] == "PRODUCT_NOT_FOUND"
            many = [f"00000000-0000-0000-0000-{i:012d}" for i in range(1, 202)]
            await ws.send(json.dumps({"type": "subscribe", "products": many}))
            code, reason = None, ""
            try:
                while True:
                    frame = await recv(ws, 5)
                    if frame["type"] == "error":
                        code = frame["code"]
                        break
            except Exception as exc:  # a list longer than the limit is a bad frame
                reason = str(exc)
            assert code == "LIVE_TOO_MANY_SUBSCRIPTIONS" or "LIVE_INVALID_FRAME" in reason

    asyncio.run(run())
