"""Chat: a message to the other party's WebSocket, p99, with 1,000 sockets open.

    python -m bench.chat [--quick] [--connections 1000] [--rate 50] [--seconds 20] [--runs 3]
    python -m bench.run chat [--quick]

Per run, against the real core API (uvicorn, `--api-workers` processes, on a throw-away
database): `--connections` WebSockets are opened to `/chat/live` (one seller per shop for
every 20 sockets, the rest buyers, each buyer with a conversation with one of the shops;
the sockets spread over the API processes as the kernel hands them out), then messages are
sent through `POST /chat/conversations/{id}/messages` at `--rate` per second for
`--seconds` (open loop: sends are scheduled, not waiting for each other), alternately by
the shop and by the buyer, each with a `client_ref` the receiving socket matches.

* `message_to_socket_ms` — from just before the POST to the frame arriving on the
  *other* party's socket (the send's HTTP request, its transaction — the row, notify.chat
  in the outbox, the NOTIFY — the commit, the LISTEN of whichever process holds that
  socket, and the frame);
* baseline, same run: `rest_send_ms` — the POST alone (request → 201), and
  `notify_roundtrip_ms` — Postgres alone: `pg_notify` committed on one connection →
  received by a LISTENing one, at the same rate;
* `connect_seconds` — opening and authenticating every socket; `lost` — messages whose
  frame never came (expected 0).

The client (one asyncio process: the sockets, the sender) shares the 2 cores with the API
processes and Postgres: read the ratio to the REST baseline rather than one absolute number.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import psycopg
from websockets.asyncio.client import ClientConnection, connect

from bench.catalog_data import bench_database
from bench.loadgen import core_api
from bench.results import RESULTS_DIR, Result, latency_summary, median_of, ratio, target
from marketplace_core.accounts import ownership
from marketplace_core.accounts import service as accounts
from marketplace_core.accounts.principal import AuthenticatedUser
from marketplace_core.catalog import service as catalog
from marketplace_core.chat import service as chat
from marketplace_core.chat.policy import ChatPolicy

NAME = "chat"
SOCKETS_PER_SHOP = 20
# The anti-spam limits are not what is measured: the API runs with these.
LENIENT_ENV = {"CHAT_MESSAGES_PER_MINUTE": "1000000", "CHAT_MESSAGE_BURST": "100000",
               "CHAT_CONVERSATIONS_PER_HOUR": "1000000", "CHAT_CONVERSATION_BURST": "100000",
               "CHAT_REPEAT_MAX": "100000", "CHAT_WS_IDLE_TIMEOUT_SECONDS": "3600",
               "CHAT_LIVE_STOCK_ENABLED": "false"}
LENIENT = ChatPolicy(messages_per_second=1e6, message_burst=100_000,
                     conversations_per_second=1e6, conversation_burst=100_000,
                     repeat_max=100_000, repeat_window=timedelta(minutes=10))


@dataclass(frozen=True)
class Pair:
    conversation_id: UUID
    buyer_token: str
    seller_token: str


def build_world(dsn: str, connections: int) -> tuple[list[str], list[Pair]]:
    """(seller tokens, one pair per buyer): `connections` accounts in all."""
    shops = max(1, connections // SOCKETS_PER_SHOP)
    buyers = connections - shops
    sellers: list[tuple[str, UUID]] = []
    pairs: list[Pair] = []
    with psycopg.connect(dsn) as conn:
        for s in range(shops):
            tag = secrets.token_hex(4)
            seller = accounts.register_user(
                conn, email=f"seller-{tag}@chat-bench.example.kg", password="bench password 1",
                full_name=f"Продавец {s}", role="seller", password_rounds=4).user
            merchant = catalog.create_merchant(conn, f"Бенч {tag}")
            ownership.add_merchant_member(conn, merchant.id, seller.id)
            shop = catalog.create_shop(conn, merchant.id, f"Магазин {s}",
                                       address="Бишкек, Дордой")
            sellers.append((accounts.issue_tokens(conn, seller.id, "seller").access_token,
                            shop.id))
        for b in range(buyers):
            buyer = accounts.register_user(
                conn, email=f"buyer-{secrets.token_hex(5)}@chat-bench.example.kg",
                password="bench password 1", full_name=f"Покупатель {b}", role="buyer",
                password_rounds=4).user
            token, shop_id = sellers[b % shops]
            conv, _ = chat.open_conversation(conn, AuthenticatedUser(buyer.id, "buyer"),
                                             shop_id, chat_policy=LENIENT)
            pairs.append(Pair(conv.id, accounts.issue_tokens(conn, buyer.id, "buyer")
                              .access_token, token))
        conn.commit()
    return [t for t, _ in sellers], pairs


class Meter:
    """Send times by client_ref, and the latencies of the frames that match them."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[float, str]] = {}  # ref -> (t0, recipient side)
        self.latencies: list[float] = []
        self.rest: list[float] = []
        self.errors = 0

    def seen(self, frame: dict[str, Any], side: str) -> None:
        ref = frame.get("client_ref")
        found = self.sent.get(ref) if isinstance(ref, str) else None
        if found is not None and found[1] == side:
            del self.sent[ref]  # type: ignore[arg-type]
            self.latencies.append((time.perf_counter() - found[0]) * 1000)


async def _reader(ws: ClientConnection, side: str, meter: Meter) -> None:
    try:
        async for raw in ws:
            frame = orjson.loads(raw)
            if frame.get("type") == "message":
                meter.seen(frame, side)
    except Exception:
        return


async def _open(url: str, token: str, side: str, meter: Meter
                ) -> tuple[ClientConnection, asyncio.Task[None]]:
    ws = await connect(f"{url}?access_token={token}", max_size=2**20, open_timeout=60)
    hello = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
    assert hello["type"] == "hello", hello
    await ws.send('{"type": "ping"}')  # live from now
    return ws, asyncio.create_task(_reader(ws, side, meter))


async def _notify_baseline(dsn: str, rate: float, count: int) -> list[float]:
    """pg_notify committed on one connection → received on a LISTENing one."""
    got: dict[str, float] = {}
    listener = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    sender = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await listener.execute("listen bench_chat_baseline")

    async def listen() -> None:
        async for note in listener.notifies():
            got[note.payload] = time.perf_counter()
            if len(got) >= count:
                return

    task = asyncio.create_task(listen())
    sent: dict[str, float] = {}
    for i in range(count):
        sent[str(i)] = time.perf_counter()
        await sender.execute("select pg_notify('bench_chat_baseline', %s)", (str(i),))
        await asyncio.sleep(1 / rate)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(task, 10)
    await listener.close()
    await sender.close()
    return [(got[k] - t0) * 1000 for k, t0 in sent.items() if k in got]


async def _measure(base: str, dsn: str, sellers: list[str], pairs: list[Pair], rate: float,
                   seconds: float, run: int) -> dict[str, Any]:
    meter = Meter()
    url = base.replace("http://", "ws://") + "/chat/live"
    started = time.perf_counter()
    opened: list[tuple[ClientConnection, asyncio.Task[None]]] = []
    plan = [(t, "shop") for t in sellers] + [(p.buyer_token, "buyer") for p in pairs]
    for i in range(0, len(plan), 50):
        opened += await asyncio.gather(*(_open(url, t, side, meter)
                                         for t, side in plan[i:i + 50]))
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(1.0)  # the last sockets' first frames are processed

    load_before = os.getloadavg()[0]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

        async def send_one(i: int) -> None:
            pair = pairs[i % len(pairs)]
            by_shop = i % 2 == 0
            ref = f"r{run}-{i}"
            t0 = time.perf_counter()
            meter.sent[ref] = (t0, "buyer" if by_shop else "shop")
            token = pair.seller_token if by_shop else pair.buyer_token
            answer = await http.post(f"/chat/conversations/{pair.conversation_id}/messages",
                                     headers={"Authorization": f"Bearer {token}"},
                                     json={"text": f"сообщение {i} из бенчмарка",
                                           "client_ref": ref})
            meter.rest.append((time.perf_counter() - t0) * 1000)
            if answer.status_code != 201:
                meter.errors += 1
                meter.sent.pop(ref, None)

        total = int(rate * seconds)
        tasks = []
        t_start = time.perf_counter()
        for i in range(total):
            delay = t_start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send_one(i)))
        await asyncio.gather(*tasks)
        send_seconds = time.perf_counter() - t_start
        deadline = time.perf_counter() + 10
        while meter.sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
    notify = await _notify_baseline(dsn, rate, max(50, min(400, total)))
    load_after = os.getloadavg()[0]
    for ws, reader in opened:
        reader.cancel()
        with contextlib.suppress(Exception):
            await ws.close()
    return {
        "connections": len(opened), "messages": total, "errors": meter.errors,
        "lost": len(meter.sent), "connect_seconds": round(connect_seconds, 2),
        "achieved_rate": round(total / send_seconds, 1),
        "message_to_socket_ms": latency_summary(meter.latencies),
        "rest_send_ms": latency_summary(meter.rest),
        "notify_roundtrip_ms": latency_summary(notify),
        "load_average_1m": [round(load_before, 1), round(load_after, 1)],
    }


def bench_chat(args: argparse.Namespace) -> Result:
    result = Result(NAME, {"connections": args.connections, "rate": args.rate,
                           "seconds": args.seconds, "runs": args.runs,
                           "api_workers": args.api_workers})
    for run in range(args.runs):
        with bench_database() as dsn:
            started = time.perf_counter()
            sellers, pairs = build_world(dsn, args.connections)
            print(f"  run {run + 1}: {len(sellers)} sellers, {len(pairs)} buyers in "
                  f"{time.perf_counter() - started:.1f}s", flush=True)
            with core_api(dsn, workers=args.api_workers, env=LENIENT_ENV) as base:
                got = asyncio.run(_measure(base, dsn, sellers, pairs, args.rate,
                                           args.seconds, run))
        m, r = got["message_to_socket_ms"], got["rest_send_ms"]
        print(f"  run {run + 1}: {got['connections']} sockets (opened in "
              f"{got['connect_seconds']}s), {got['messages']} messages at "
              f"{got['achieved_rate']}/s: to the socket p50 {m['p50']} p99 {m['p99']} ms | "
              f"REST alone p50 {r['p50']} p99 {r['p99']} ms | lost {got['lost']}", flush=True)
        result.runs.append(got)
    result.median = {
        "message_to_socket_p50_ms": median_of(result.runs, "message_to_socket_ms.p50"),
        "message_to_socket_p99_ms": median_of(result.runs, "message_to_socket_ms.p99"),
        "connect_seconds": median_of(result.runs, "connect_seconds"),
        "lost": median_of(result.runs, "lost"),
    }
    result.baseline_median = {
        "rest_send_p50_ms": median_of(result.runs, "rest_send_ms.p50"),
        "rest_send_p99_ms": median_of(result.runs, "rest_send_ms.p99"),
        "notify_roundtrip_p99_ms": median_of(result.runs, "notify_roundtrip_ms.p99"),
    }
    result.ratio = {
        "socket_p99_over_rest_p99": ratio(result.median["message_to_socket_p99_ms"],
                                          result.baseline_median["rest_send_p99_ms"]),
        "socket_p50_over_rest_p50": ratio(result.median["message_to_socket_p50_ms"],
                                          result.baseline_median["rest_send_p50_ms"]),
    }
    result.targets = {
        "socket_p99_below_ms": target(result.median["message_to_socket_p99_ms"], below=1000),
        "nothing_lost": target(result.median["lost"], below=0.5),
    }
    result.targets["met"] = all(t["met"] for t in result.targets.values()
                                if isinstance(t, dict))
    spread = [r["message_to_socket_ms"]["p99"] for r in result.runs]
    result.notes = [
        "message_to_socket = before POST -> the frame on the other party's socket (REST "
        "send, commit with NOTIFY, LISTEN in whichever API process holds that socket, frame)",
        "baselines: rest_send = the POST alone; notify_roundtrip = pg_notify -> LISTEN alone",
        "client (sockets + sender, one asyncio process), API processes and Postgres share "
        "the machine's cores; load_average_1m is recorded per run",
        f"p99 per run: {spread}" + (f", spread {statistics.pstdev(spread):.1f} ms"
                                    if len(spread) > 1 else ""),
    ]
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chat", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="200 sockets, 20 messages/s for 5 s, 1 run")
    ap.add_argument("--connections", type=int, default=None, help="default 1,000")
    ap.add_argument("--rate", type=float, default=None, help="messages/s (default 50)")
    ap.add_argument("--seconds", type=float, default=None, help="per run (default 20)")
    ap.add_argument("--runs", type=int, default=None, help="default 3 (quick: 1)")
    ap.add_argument("--api-workers", type=int, default=2)
    ap.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    args.connections = args.connections or (200 if args.quick else 1000)
    args.rate = args.rate or (20.0 if args.quick else 50.0)
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    args.runs = args.runs or (1 if args.quick else 3)
    result = bench_chat(args)
    result.params["quick"] = args.quick
    print(f"    wrote {result.write(args.results_dir)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
