"""The live channel (WebSocket /chat/live) on two real API processes sharing the chat
database: a message sent through one process reaches a socket on the other; a client that
reconnects (to either process) gets what it missed exactly once and in order, while
messages keep coming; conversations opened while it was away come with the cursor; and
garbage, silence and bad tokens end in a close code with a reason, never a crash."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from marketplace_core.accounts.tokens import issue_access_token
from tests.core.chat.conftest import World, ok, open_chat, send, ws_url

pytestmark = [pytest.mark.timeout(120)]


async def recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def recv_type(ws: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = await recv(ws, max(0.1, deadline - time.monotonic()))
        if frame["type"] == kind:
            return frame


async def closed_with(ws: ClientConnection, timeout: float = 10.0) -> tuple[int, str]:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        return exc.rcvd.code, exc.rcvd.reason


def test_a_message_reaches_a_socket_on_the_other_process(
        api: Any, world: World, servers: tuple[str, str]) -> None:
    a, b = servers
    cid = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]

    async def run() -> None:
        async with connect(ws_url(b, world.seller.access_token)) as seller_ws, \
                connect(ws_url(a)) as buyer_ws:
            hello = await recv(seller_ws)
            assert hello["type"] == "hello" and str(world.shop_id) in hello["shops"]
            await seller_ws.send(json.dumps({"type": "ping", "id": 7}))
            assert (await recv_type(seller_ws, "pong"))["id"] == 7
            await buyer_ws.send(json.dumps({"type": "auth", "token": world.buyer.access_token}))
            assert (await recv(buyer_ws))["type"] == "hello"
            assert (await recv(buyer_ws))["type"] == "synced"
            # sent through process A's REST API; the seller's socket is on process B
            sent = ok(httpx.post(f"{a}/chat/conversations/{cid}/messages",
                                 headers=world.buyer.headers, json={"text": "Салам!"}), 201)
            got = await recv_type(seller_ws, "message")
            assert (got["conversation_id"], got["seq"], got["body"], got["sender_side"]) == \
                (cid, 1, "Салам!", "buyer")
            assert got["id"] == sent["id"]
            assert (await recv_type(buyer_ws, "message"))["seq"] == 1  # the buyer's own too
            ok(api.post(f"/chat/conversations/{cid}/read", headers=world.seller.headers,
                        json={}))
            receipt = await recv_type(buyer_ws, "read")
            assert (receipt["side"], receipt["seq"]) == ("shop", 1)
            # the other shop's seller hears nothing of it
            async with connect(ws_url(a, world.other_seller.access_token)) as stranger:
                await recv(stranger)  # hello
                await stranger.send(json.dumps({"type": "ping"}))
                send(api, world.buyer, cid, "ещё")
                assert (await recv_type(seller_ws, "message"))["seq"] == 2
                frames = [await recv(stranger) for _ in range(2)]
                assert [f["type"] for f in frames] == ["synced", "pong"]
                with pytest.raises(TimeoutError):
                    await recv(stranger, 0.5)

    asyncio.run(run())


def test_reconnects_get_every_message_once_in_order(
        api: Any, world: World, servers: tuple[str, str]) -> None:
    a, b = servers
    cid = open_chat(api, world.buyer, world.shop_id,
                    product_id=str(world.product_id))["conversation"]["id"]
    total = 40
    done = threading.Event()

    def seller_writes() -> None:  # through process A, while the buyer comes and goes
        with httpx.Client(base_url=a, headers=world.seller.headers, timeout=10) as http:
            for i in range(1, total + 1):
                ok(http.post(f"/chat/conversations/{cid}/messages",
                             json={"text": f"сообщение номер {i}"}), 201)
                time.sleep(0.03)
        done.set()

    received: list[int] = []

    async def run() -> int:
        writer = threading.Thread(target=seller_writes, daemon=True)
        writer.start()
        round_no = 0
        while len(received) < total:
            round_no += 1
            base = (a, b)[round_no % 2]
            async with connect(ws_url(base)) as ws:
                await ws.send(json.dumps({
                    "type": "auth", "token": world.buyer.access_token,
                    "resume": {"conversations": {cid: received[-1] if received else 0}}}))
                assert (await recv(ws))["type"] == "hello"
                quota = 7  # drop the connection after a few messages
                while len(received) < total and quota:
                    frame = await recv(ws, 15)
                    if frame["type"] == "message":
                        assert frame["conversation_id"] == cid
                        received.append(frame["seq"])
                        quota -= 1
            await asyncio.sleep(0.15)  # away for a moment: messages keep coming
        writer.join(timeout=30)
        return round_no

    rounds = asyncio.run(run())
    assert done.is_set() and rounds >= 5
    assert received == list(range(1, total + 1))


def test_a_conversation_opened_while_away_comes_with_the_cursor(
        api: Any, world: World, servers: tuple[str, str]) -> None:
    a, b = servers
    first = open_chat(api, world.buyer, world.shop_id, text="раз")["conversation"]["id"]

    async def run() -> None:
        async with connect(ws_url(a, world.buyer.access_token)) as ws:
            hello = await recv(ws)
            await ws.send(json.dumps({"type": "resume", "cursor": hello["cursor"],
                                      "conversations": {first: 0}}))
            assert (await recv_type(ws, "message"))["body"] == "раз"
            synced = await recv_type(ws, "synced")
            assert synced["conversations"] == {first: 1}
        # away: the buyer opens another conversation elsewhere, the shop answers both
        second = open_chat(api, world.buyer, world.shop_id, product_id=str(world.product_id),
                           text="два")["conversation"]["id"]
        send(api, world.seller, second, "ответ на два")
        send(api, world.seller, first, "ответ на раз")
        async with connect(ws_url(b)) as ws:
            await ws.send(json.dumps({"type": "auth", "token": world.buyer.access_token,
                                      "resume": {"cursor": synced["cursor"],
                                                 "conversations": {first: 1}}}))
            frames = []
            while (frame := await recv(ws))["type"] != "synced":
                if frame["type"] == "message":
                    frames.append((frame["conversation_id"], frame["seq"], frame["body"]))
            assert sorted(frames) == sorted([(first, 2, "ответ на раз"), (second, 1, "два"),
                                             (second, 2, "ответ на два")])
            assert frames.index((second, 1, "два")) < frames.index((second, 2, "ответ на два"))
            assert frame["conversations"] == {first: 2, second: 2}
            send(api, world.seller, second, "и ещё")
            live = await recv_type(ws, "message")
            assert (live["conversation_id"], live["seq"]) == (second, 3)

    asyncio.run(run())


def test_garbage_silence_and_bad_tokens_are_closed_with_a_reason(
        world: World, servers: tuple[str, str]) -> None:
    a, b = servers  # b: auth within 1 s, idle 2 s
    expired, _ = issue_access_token(world.buyer.id, "buyer", uuid4(),
                                    now=datetime.now(UTC) - timedelta(hours=1))
    token = world.buyer.access_token

    async def first_frame(frame: str | bytes, *, url: str = b) -> tuple[int, str]:
        async with connect(url, max_size=None) as ws:
            await ws.send(frame)
            return await closed_with(ws)

    async def after_auth(frame: str) -> tuple[int, str]:
        async with connect(ws_url(a, token)) as ws:
            await recv(ws)  # hello
            await ws.send(frame)
            return await closed_with(ws)

    async def run() -> None:
        url = ws_url(b)
        cases = {
            "not json": (await first_frame("{{{ not json", url=url), 4400,
                         "LIVE_INVALID_FRAME"),
            "an array": (await first_frame("[1, 2]", url=url), 4400, "LIVE_INVALID_FRAME"),
            "unknown type": (await first_frame('{"type": "hack"}', url=url), 4400,
                             "LIVE_INVALID_FRAME"),
            "binary": (await first_frame(b"\x00\xff\x10", url=url), 4400, "LIVE_INVALID_FRAME"),
            "huge": (await first_frame("x" * 70_000, url=url), 1009, "PAYLOAD_TOO_LARGE"),
            "ping first": (await first_frame('{"type": "ping"}', url=url), 4401, "UNAUTHORIZED"),
            "bad token": (await first_frame('{"type": "auth", "token": "abc.def"}', url=url),
                          4401, "UNAUTHORIZED"),
            "expired": (await first_frame(json.dumps({"type": "auth", "token": expired}),
                                          url=url), 4401, "TOKEN_EXPIRED"),
            "token not text": (await first_frame('{"type": "auth", "token": 42}', url=url),
                               4401, "UNAUTHORIZED"),
            "bad resume": (await after_auth('{"type": "resume", "conversations": {"x": 1}}'),
                           4400, "LIVE_INVALID_FRAME"),
            "negative seq": (await after_auth(json.dumps(
                {"type": "resume", "conversations": {str(uuid4()): -1}})), 4400,
                "LIVE_INVALID_FRAME"),
            "bad cursor": (await after_auth('{"type": "resume", "cursor": "zzz"}'), 4400,
                           "LIVE_INVALID_FRAME"),
            "bad subscribe": (await after_auth('{"type": "subscribe", "products": "all"}'),
                              4400, "LIVE_INVALID_FRAME"),
        }
        async with connect(url) as ws:  # says nothing
            cases["no auth"] = (await closed_with(ws), 4408, "LIVE_AUTH_TIMEOUT")
        async with connect(ws_url(b, token)) as ws:  # authenticated, then silent
            await recv(ws)
            cases["idle"] = (await closed_with(ws), 4408, "LIVE_IDLE_TIMEOUT")
        async with connect(ws_url(b, "garbage-token")) as ws:
            cases["query token"] = (await closed_with(ws), 4401, "UNAUTHORIZED")
        for name, ((code, reason), want_code, want_reason) in cases.items():
            assert code == want_code and reason.startswith(want_reason), (name, code, reason)
        # and both processes still serve
        for base in (a, b):
            async with connect(ws_url(base, token)) as ws:
                assert (await recv(ws))["type"] == "hello"
            assert httpx.get(f"{base}/health", timeout=5).status_code == 200

    asyncio.run(run())


def test_a_lost_listen_connection_makes_clients_resume(
        api: Any, chat_dsn: str, world: World, servers: tuple[str, str]) -> None:
    import psycopg

    a, _ = servers
    cid = open_chat(api, world.buyer, world.shop_id, text="до обрыва")["conversation"]["id"]

    async def run() -> None:
        async with connect(ws_url(a, world.buyer.access_token)) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "resume", "conversations": {cid: 0}}))
            assert (await recv_type(ws, "message"))["seq"] == 1
            with psycopg.connect(chat_dsn, autocommit=True) as conn:
                killed = conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where"
                    " datname = current_database() and query ilike 'listen chat_live%'"
                ).fetchall()
            assert killed
            code, reason = await closed_with(ws)
            assert code == 1012 and reason.startswith("LIVE_RESTART")
        send(api, world.seller, cid, "после обрыва")
        deadline = time.monotonic() + 20
        while True:  # the process listens again within a moment
            try:
                async with connect(ws_url(a, world.buyer.access_token)) as ws:
                    await recv(ws)
                    await ws.send(json.dumps({"type": "resume", "conversations": {cid: 1}}))
                    got = await recv_type(ws, "message")
                    assert (got["seq"], got["body"]) == (2, "после обрыва")
                    return
            except ConnectionClosed:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.3)

    asyncio.run(run())


def test_a_socket_that_falls_behind_is_dropped_and_resumes(
        api: Any, world: World, servers: tuple[str, str]) -> None:
    _, b = servers  # b queues at most 10 frames per socket
    cid = open_chat(api, world.buyer, world.shop_id)["conversation"]["id"]

    async def run() -> None:
        async with connect(ws_url(b, world.buyer.access_token)) as ws:
            await recv(ws)  # hello; the client never says how to start: frames wait
            for i in range(12):
                send(api, world.seller, cid, f"номер {i + 1}")
            code, reason = await closed_with(ws)
            assert code == 1013 and reason.startswith("LIVE_SLOW_CONSUMER"), (code, reason)
        async with connect(ws_url(b, world.buyer.access_token)) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "resume", "conversations": {cid: 0}}))
            seqs = []
            while (frame := await recv(ws))["type"] != "synced":
                seqs.append(frame["seq"])
            assert seqs == list(range(1, 13))

    asyncio.run(run())
