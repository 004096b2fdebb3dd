"""The core API's live channel (seed 000 §4 "REST + WebSocket", §24.4; issue 13 §2): one
WebSocket per app at `/chat/live` carries

* chat: new messages, read receipts and closed conversations of the caller's
  conversations (as a buyer, and of the shops they manage), in sequence order, exactly once
  per connection, resuming after a reconnect from the client's cursor;
* stock and the Buy button of the products and shops the client subscribed to.

Where it comes from, per API process (each uvicorn worker runs its own hub):

    chat.service ─NOTIFY chat_live (at commit)─▶ LISTEN (one connection) ────────┐
    POS sale → inventory ─outbox─▶ core.variants ─────────────┐                  ├─▶ hub
    POS silent → eligibility ─outbox─▶ core.shop_eligibility ─┴─▶ Kafka consumer ┘    │
                                                                           sockets ◀──┘

Chat uses Postgres LISTEN/NOTIFY, not Kafka: why is written in marketplace_core.chat.live
(transactional, no relay hop, every process gets every notification). Stock and the Buy
button already travel as the core's change events (core.variants after a till sale,
core.shop_eligibility when a terminal goes silent: `manual_contact` = no Buy button), so
the hub consumes those topics: every process reads them from their end with a consumer
of its own (assigned partitions, no group, nothing committed). Both are started lazily,
by the first socket (LISTEN) and the first subscription (Kafka): an API that nobody
watches holds neither.

Protocol (JSON text frames; `docs` in README "Chat"):

    client → server  {"type": "auth", "token": "<access token>", "resume": {...}?}
                     {"type": "resume", "cursor": "<from hello/synced>"?,
                      "conversations": {"<id>": <last seq held>, ...}}
                     {"type": "subscribe" | "unsubscribe", "products": [...], "shops": [...]}
                     {"type": "ping"}
    server → client  hello, synced, message, read, closed, subscribed, stock, buy_button,
                     pong, error

Authenticate with `?access_token=` or a first `auth` frame (the same access token as the
REST API) within CHAT_WS_AUTH_TIMEOUT_SECONDS. Chat delivery starts at the client's first
frame after authentication: a `resume` first catches up (what the named conversations
miss after the given sequence numbers, and every conversation opened since the cursor),
anything else means "live from now". The connection is closed with a code and a reason
`"<STABLE_CODE>: <message>"`, never a crash: 4400 LIVE_INVALID_FRAME (not JSON, not an
object, unknown type, wrong fields, binary), 1009 PAYLOAD_TOO_LARGE (> 64 KiB), 4401
UNAUTHORIZED / TOKEN_EXPIRED (also when the token expires; send a new `auth` before), 4408
LIVE_AUTH_TIMEOUT / LIVE_IDLE_TIMEOUT (no frame for CHAT_WS_IDLE_TIMEOUT_SECONDS: ping),
1013 LIVE_SLOW_CONSUMER (more than CHAT_WS_QUEUE_MAX frames waiting), 1012 LIVE_RESTART
(the process lost its LISTEN connection; reconnect and resume), 1011 INTERNAL_ERROR.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import orjson
import psycopg
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from infra.settings import get_settings
from marketplace_core.accounts.service import authenticate_access_token
from marketplace_core.accounts.tokens import decode_access_token
from marketplace_core.chat import live as chat_live
from marketplace_core.chat import service as chat
from marketplace_core.db import resolve_dsn
from marketplace_core.errors import DomainError, ErrorCode, UnauthorizedError

log = logging.getLogger("marketplace_core.api.live")

CLOSE_INVALID = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TIMEOUT = 4408
CLOSE_TOO_BIG = 1009
CLOSE_SLOW = 1013
CLOSE_RESTART = 1012
CLOSE_INTERNAL = 1011
CLOSE_GOING_AWAY = 1001
MAX_FRAME_BYTES = 64 * 1024
MAX_RESUME_CONVERSATIONS = 1000
# A conversation opened this long before a cursor was issued still counts as new after it
# (its row may have committed late): a client lists the ones it knows anyway.
RESUME_MARGIN = timedelta(seconds=60)
CATCH_UP_PAGE = 200
FRAME_TYPES = frozenset({"auth", "resume", "subscribe", "unsubscribe", "ping"})

T = TypeVar("T")


class FrameError(Exception):
    """A frame the protocol refuses: the connection is closed with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _invalid(detail: str) -> FrameError:
    return FrameError(CLOSE_INVALID, f"{ErrorCode.LIVE_INVALID_FRAME}: {detail}")


def parse_frame(message: dict[str, Any]) -> dict[str, Any]:
    """A client frame as a dict with a known `type`, or FrameError."""
    if message.get("bytes") is not None:
        raise _invalid("binary frames are not accepted; send JSON text")
    text = message.get("text")
    if not isinstance(text, str):
        raise _invalid("an empty frame")
    if len(text) > MAX_FRAME_BYTES:
        raise FrameError(CLOSE_TOO_BIG, f"{ErrorCode.PAYLOAD_TOO_LARGE}: a frame is at most "
                                        f"{MAX_FRAME_BYTES} bytes")
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _invalid("not JSON") from None
    if not isinstance(frame, dict):
        raise _invalid("a frame is a JSON object")
    kind = frame.get("type")
    if not isinstance(kind, str) or kind not in FRAME_TYPES:
        raise _invalid(f"type is one of {', '.join(sorted(FRAME_TYPES))}")
    return frame


def _uuids(frame: dict[str, Any], key: str, limit: int) -> list[UUID]:
    values = frame.get(key, [])
    if not isinstance(values, list) or len(values) > limit:
        raise _invalid(f"{key} is a list of at most {limit} ids")
    out: list[UUID] = []
    for value in values:
        try:
            if not isinstance(value, str):
                raise ValueError
            out.append(UUID(value))
        except ValueError:
            raise _invalid(f"{key} holds something that is not an id") from None
    return list(dict.fromkeys(out))


def parse_resume(frame: Any) -> tuple[dict[UUID, int], datetime | None]:
    """The conversations' last sequence numbers and the cursor's time of a resume."""
    if not isinstance(frame, dict):
        raise _invalid("resume is an object")
    known_raw = frame.get("conversations", {})
    if not isinstance(known_raw, dict) or len(known_raw) > MAX_RESUME_CONVERSATIONS:
        raise _invalid(f"conversations maps at most {MAX_RESUME_CONVERSATIONS} ids to the "
                       "last sequence number held")
    known: dict[UUID, int] = {}
    for key, seq in known_raw.items():
        if type(seq) is not int or not 0 <= seq < 2**62:
            raise _invalid("a sequence number is an integer >= 0")
        try:
            known[UUID(str(key))] = seq
        except ValueError:
            raise _invalid("conversations are named by their ids") from None
    cursor = frame.get("cursor")
    since = None
    if cursor is not None:
        since = decode_cursor(cursor)
    return known, since


def encode_cursor(at: datetime) -> str:
    raw = orjson.dumps({"t": int(at.timestamp() * 1000)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: Any) -> datetime:
    try:
        if not isinstance(cursor, str) or len(cursor) > 200:
            raise ValueError
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ms = value["t"]
        if type(ms) is not int or not 946684800000 <= ms <= 4102444800000:
            raise ValueError
        return datetime.fromtimestamp(ms / 1000, UTC) - RESUME_MARGIN
    except Exception:
        raise _invalid("the resume cursor is malformed") from None


def _json(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- one connection ---------------------------------------------------------------------------


class LiveClient:
    """One socket: its identity, the per-conversation sequence it has been sent, its
    subscriptions, and one writer task that sends every frame in order."""

    def __init__(self, hub: LiveHub, ws: WebSocket, part: chat.Participant,
                 expires_at: datetime) -> None:
        self.hub = hub
        self.ws = ws
        self.part = part
        self.expires_at = expires_at
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.delivered: dict[UUID, int] = {}
        self.started = asyncio.Event()
        self.resume: tuple[dict[UUID, int], datetime | None] | None = None
        self.products: set[UUID] = set()
        self.shops: set[UUID] = set()
        self.buy_shops: dict[UUID, set[UUID]] = {}  # shop -> products/shops that need it
        self.closed = False
        self.dropping = False
        self.registered_at = datetime.now(UTC)
        self.max_queue = get_settings().chat_ws_queue_max

    def push(self, item: tuple[str, Any]) -> None:
        if self.closed or self.dropping:
            return
        if self.queue.qsize() >= self.max_queue:
            self.dropping = True
            log.warning("live socket of %s too slow: %d frames waiting; closed",
                        self.part.id, self.queue.qsize())
            self.hub.spawn(self.close(CLOSE_SLOW, f"{ErrorCode.LIVE_SLOW_CONSUMER}: more than "
                                                  f"{self.max_queue} frames waiting; resume"))
            return
        self.queue.put_nowait(item)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_text(orjson.dumps(frame, default=_json).decode())

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason.encode()[:123].decode(errors="ignore"))

    async def writer(self, hello: dict[str, Any]) -> None:
        try:
            await self.send(hello)
            await self.started.wait()
            if self.resume is not None:
                await self._catch_up(*self.resume)
            await self.send({"type": "synced", "cursor": encode_cursor(self.registered_at),
                             "conversations": {str(k): v for k, v in self.delivered.items()}})
            while not self.closed:
                kind, data = await self.queue.get()
                if kind == "chat":
                    await self._chat(data)
                else:
                    await self.send(data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away mid-send, or the database did
            if not self.closed:
                log.warning("live writer for %s stopped: %s", self.part.id, type(exc).__name__)
                await self.close(CLOSE_INTERNAL, f"{ErrorCode.INTERNAL_ERROR}: resume later")

    async def _catch_up(self, known: dict[UUID, int], since: datetime | None) -> None:
        positions = await self.hub.db(chat.resume_positions, self.part, known, since)
        for cid, after in positions.items():
            await self._send_from_db(cid, after, None)
            self.delivered.setdefault(cid, after)

    async def _send_from_db(self, cid: UUID, after: int, through: int | None) -> None:
        while True:
            found = await self.hub.db(chat.messages_after, cid, after, through_seq=through,
                                      limit=CATCH_UP_PAGE)
            for msg in found:
                await self.send(chat_live.message_frame(msg))
                after = self.delivered[cid] = msg.seq
            if len(found) < CATCH_UP_PAGE:
                return

    async def _chat(self, d: dict[str, Any]) -> None:
        cid = UUID(d["conversation_id"])
        if d["k"] == "read":
            await self.send({"type": "read", "conversation_id": d["conversation_id"],
                             "side": d["side"], "seq": d["seq"]})
            return
        if d["k"] == "closed":
            await self.send({"type": "closed", "conversation_id": d["conversation_id"]})
            return
        seq = int(d["seq"])
        last = self.delivered.get(cid, seq - 1)  # a conversation new to this socket: from here
        if seq <= last:
            return  # already sent (by the catch-up, or a gap fill)
        if seq > last + 1 or d.get("message") is None:
            await self._send_from_db(cid, last, seq)  # the gap, in order, then this one
        else:
            await self.send(d["message"])
            self.delivered[cid] = seq


# --- the process's hub ------------------------------------------------------------------------


@dataclass
class _Index:
    """clients by key, for one kind of event"""

    by_key: defaultdict[UUID, set[LiveClient]]

    @classmethod
    def new(cls) -> _Index:
        return cls(defaultdict(set))

    def add(self, key: UUID, client: LiveClient) -> None:
        self.by_key[key].add(client)

    def discard(self, key: UUID, client: LiveClient) -> None:
        found = self.by_key.get(key)
        if found is not None:
            found.discard(client)
            if not found:
                del self.by_key[key]

    def get(self, key: UUID) -> set[LiveClient]:
        return self.by_key.get(key) or set()


class LiveHub:
    def __init__(self, dsn: str | None, pool: ConnectionPool) -> None:
        self.dsn = resolve_dsn(dsn)
        self.pool = pool
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[LiveClient] = set()
        self.by_user = _Index.new()
        self.by_shop = _Index.new()
        self.watch_products = _Index.new()
        self.watch_shops = _Index.new()
        self.watch_buy = _Index.new()
        self.listening: asyncio.Event | None = None
        self.stock_ready = threading.Event()
        self._listen_task: asyncio.Task[None] | None = None
        self._stock: StockFeed | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._start_lock: asyncio.Lock | None = None
        self.stats = {"notifications": 0, "stock_events": 0}

    # --- life cycle ---------------------------------------------------------------------

    async def ensure_started(self, timeout: float = 10.0) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._listen_task is None:
                self.loop = asyncio.get_running_loop()
                self.listening = asyncio.Event()
                self._listen_task = asyncio.create_task(self._listen(), name="chat-listen")
        assert self.listening is not None
        await asyncio.wait_for(self.listening.wait(), timeout)

    def ensure_stock(self) -> bool:
        """Start the stock consumer if needed; True once it reads from the topics' ends."""
        if not get_settings().chat_live_stock_enabled or self.loop is None:
            return False
        if self._stock is None:
            self._stock = StockFeed(self, self.loop)
            self._stock.start()
        return self.stock_ready.is_set()

    async def stop(self) -> None:
        for client in list(self.clients):
            await client.close(CLOSE_GOING_AWAY, f"{ErrorCode.LIVE_RESTART}: the server stops")
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(BaseException):
                await self._listen_task
        if self._stock is not None:
            self._stock.stop.set()
            await run_in_threadpool(self._stock.join, 10)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(conn, *args)` on a pooled connection, off the event loop."""
        def call() -> T:
            with self.pool.connection() as conn, conn.transaction():
                return fn(conn, *args, **kwargs)
        return await run_in_threadpool(call)

    # --- chat: LISTEN ---------------------------------------------------------------------

    async def _listen(self) -> None:
        assert self.listening is not None
        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
                async with conn:
                    await conn.execute(f"listen {chat_live.CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    async for note in conn.notifies():
                        self._on_notify(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("chat LISTEN connection lost (%s); reconnecting",
                            type(exc).__name__)
            if self.listening.is_set():
                # Notifications may have been missed: every socket resumes from its cursor.
                self.listening.clear()
                for client in list(self.clients):
                    self.spawn(client.close(CLOSE_RESTART, f"{ErrorCode.LIVE_RESTART}: the "
                                                           "live channel restarted; resume"))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _on_notify(self, payload: str) -> None:
        self.stats["notifications"] += 1
        try:
            d = orjson.loads(payload)
            targets = self.by_user.get(UUID(d["buyer"])) | self.by_shop.get(UUID(d["shop"]))
        except Exception:
            log.warning("unreadable chat notification skipped")
            return
        for client in targets:
            client.push(("chat", d))

    # --- stock and the Buy button: Kafka ---------------------------------------------------

    def on_stock(self, frames: list[dict[str, Any]]) -> None:
        for frame in frames:
            self.stats["stock_events"] += 1
            shop = UUID(frame["shop_id"])
            if frame["type"] == "stock":
                targets = self.watch_products.get(UUID(frame["product_id"])) | \
                    self.watch_shops.get(shop)
            else:
                targets = self.watch_buy.get(shop)
            for client in targets:
                client.push(("frame", frame))

    # --- clients ----------------------------------------------------------------------------

    def register(self, client: LiveClient) -> None:
        self.clients.add(client)
        self.by_user.add(client.part.id, client)
        for shop in client.part.shop_ids:
            self.by_shop.add(shop, client)

    def unregister(self, client: LiveClient) -> None:
        self.clients.discard(client)
        self.by_user.discard(client.part.id, client)
        for shop in client.part.shop_ids:
            self.by_shop.discard(shop, client)
        for product in client.products:
            self.watch_products.discard(product, client)
        for shop in client.shops:
            self.watch_shops.discard(shop, client)
        for shop in client.buy_shops:
            self.watch_buy.discard(shop, client)

    def watch(self, client: LiveClient, products: dict[UUID, UUID], shops: Iterable[UUID]
              ) -> None:
        for product, shop in products.items():
            client.products.add(product)
            self.watch_products.add(product, client)
            client.buy_shops.setdefault(shop, set()).add(product)
            self.watch_buy.add(shop, client)
        for shop in shops:
            client.shops.add(shop)
            self.watch_shops.add(shop, client)
            client.buy_shops.setdefault(shop, set()).add(shop)
            self.watch_buy.add(shop, client)

    def unwatch(self, client: LiveClient, products: Iterable[UUID], shops: Iterable[UUID]
                ) -> None:
        for product in products:
            if product in client.products:
                client.products.discard(product)
                self.watch_products.discard(product, client)
                for shop, needs in list(client.buy_shops.items()):
                    needs.discard(product)
                    if not needs:
                        del client.buy_shops[shop]
                        self.watch_buy.discard(shop, client)
        for shop in shops:
            if shop in client.shops:
                client.shops.discard(shop)
                self.watch_shops.discard(shop, client)
                needs = client.buy_shops.get(shop, set())
                needs.discard(shop)
                if not needs:
                    client.buy_shops.pop(shop, None)
                    self.watch_buy.discard(shop, client)


class StockFeed(threading.Thread):
    """Reads core.variants and core.shop_eligibility from their ends (a consumer of this
    process's own: assigned partitions, no group commits) and hands the hub stock and
    Buy-button frames on its event loop."""

    def __init__(self, hub: LiveHub, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name="live-stock", daemon=True)
        self.hub = hub
        self.loop = loop
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._consume()
            except Exception as exc:
                self.hub.stock_ready.clear()
                log.warning("live stock consumer failed (%s); retrying", type(exc).__name__)
                self.stop.wait(2.0)

    def _consume(self) -> None:
        from confluent_kafka import Consumer, TopicPartition
        from confluent_kafka.schema_registry.avro import AvroDeserializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        from schemas.registry import registry_client
        from schemas.topics import CORE_SHOP_ELIGIBILITY, CORE_VARIANTS, schema_str

        topics = (CORE_VARIANTS, CORE_SHOP_ELIGIBILITY)
        registry = registry_client()
        decoders = {t.name: AvroDeserializer(registry, schema_str(t)) for t in topics}
        consumer = Consumer({
            "bootstrap.servers": get_settings().kafka_bootstrap_servers,
            "group.id": f"core-api-live-{uuid.uuid4().hex[:12]}",  # never joined or committed
            "enable.auto.commit": False,
            "isolation.level": "read_committed",  # the outbox relay writes transactions
            "fetch.wait.max.ms": 50,
        })
        try:
            assignment = []
            for t in topics:
                meta = consumer.list_topics(t.name, timeout=10).topics[t.name]
                for p in meta.partitions:
                    _, high = consumer.get_watermark_offsets(TopicPartition(t.name, p),
                                                             timeout=10)
                    assignment.append(TopicPartition(t.name, p, high))
            consumer.assign(assignment)
            self.hub.stock_ready.set()
            while not self.stop.is_set():
                frames = []
                for m in consumer.consume(500, timeout=0.2):
                    if m.error() is not None:
                        continue
                    topic = str(m.topic())
                    try:
                        record = decoders[topic](m.value(), SerializationContext(
                            topic, MessageField.VALUE))
                        frames.append(stock_frame(topic, record))
                    except Exception as exc:
                        log.warning("unreadable %s record skipped (%s)", topic,
                                    type(exc).__name__)
                if frames:
                    self.loop.call_soon_threadsafe(self.hub.on_stock, frames)
        finally:
            consumer.close()


def stock_frame(topic: str, r: Any) -> dict[str, Any]:
    """A core.variants or core.shop_eligibility record as a client frame."""
    from schemas.topics import CORE_VARIANTS

    at = r["occurred_at"]
    if topic == CORE_VARIANTS.name:
        deleted = bool(r.get("is_deleted"))
        return {"type": "stock", "product_id": str(r["product_id"]),
                "variant_id": str(r["variant_id"]), "shop_id": str(r["shop_id"]),
                "stock_qty": int(r["stock_qty"]), "in_stock": r["stock_qty"] > 0 and not deleted,
                "price": str(r["price"]), "deleted": deleted, "reason": r.get("reason"),
                "event": r["event_type"], "at": _json(at)}
    return {"type": "buy_button", "shop_id": str(r["shop_id"]),
            "enabled": r["mode"] == "online_purchase", "mode": r["mode"],
            "reasons": list(r["reasons"]), "at": _json(at)}


def snapshot(conn: psycopg.Connection[Any], products: list[UUID], shops: list[UUID]
             ) -> tuple[dict[UUID, UUID], list[UUID], dict[str, Any]]:
    """(product → shop of the live products, the existing shops, the subscribed frame's
    body: every variant's stock and each shop's Buy button now)."""
    from marketplace_core.catalog import service as catalog
    from marketplace_core.orders.eligibility import eligibility_of_shops

    found = {p.id: p.shop_id for p in catalog.get_products(conn, products) if not p.is_deleted}
    states = {e.shop_id: e for e in eligibility_of_shops(
        conn, list(dict.fromkeys([*shops, *found.values()])))}
    body = {
        "products": [{"product_id": str(p), "shop_id": str(s), "variants": [
            {"variant_id": str(v.id), "stock_qty": v.stock_qty, "in_stock": v.stock_qty > 0,
             "price": str(v.price)} for v in catalog.list_variants_for_product(conn, p)]}
            for p, s in found.items()],
        "shops": [{"shop_id": str(s), "enabled": e.can_buy_online, "mode": e.mode,
                   "reasons": list(e.reasons)} for s, e in states.items()],
    }
    return found, [s for s in shops if s in states], body


# --- the endpoint ---------------------------------------------------------------------------


def hub_of(ws: WebSocket) -> LiveHub:
    state = ws.app.state
    hub: LiveHub | None = getattr(state, "live_hub", None)
    if hub is None:
        hub = LiveHub(getattr(state, "dsn", None), state.pool)
        state.live_hub = hub
    return hub


def _authenticate(conn: psycopg.Connection[Any], token: str, ip: str | None
                  ) -> tuple[chat.Participant, datetime]:
    claims = decode_access_token(token)
    user = authenticate_access_token(conn, claims, ip)
    return chat.participant(conn, user), claims.expires_at


async def _receive(ws: WebSocket, timeout: float) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive(), timeout)
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return dict(message)


async def serve(ws: WebSocket) -> None:
    """One WebSocket from accept to close."""
    s = get_settings()
    await ws.accept()
    hub = hub_of(ws)
    client: LiveClient | None = None
    writer: asyncio.Task[None] | None = None
    ip = ws.client.host if ws.client else None
    stage = "auth"
    try:
        try:
            await hub.ensure_started()
        except Exception as exc:
            raise FrameError(CLOSE_RESTART, f"{ErrorCode.LIVE_RESTART}: the live channel is "
                                            "not ready; retry") from exc
        token = ws.query_params.get("access_token")
        header = ws.headers.get("authorization", "")
        if token is None and header.lower().startswith("bearer "):
            token = header[7:].strip()
        first: dict[str, Any] | None = None
        if token is None:
            first = parse_frame(await _receive(ws, s.chat_ws_auth_timeout_seconds))
            if first["type"] != "auth":
                raise FrameError(CLOSE_UNAUTHORIZED, f"{ErrorCode.UNAUTHORIZED}: authenticate "
                                                     "first (access_token or an auth frame)")
            token = first.get("token")
        if not isinstance(token, str) or not 0 < len(token) <= 4096:
            raise FrameError(CLOSE_UNAUTHORIZED, f"{ErrorCode.UNAUTHORIZED}: a bearer access "
                                                 "token is required")
        part, expires = await hub.db(_authenticate, token, ip)
        client = LiveClient(hub, ws, part, expires)
        hub.register(client)
        hello = {"type": "hello", "user_id": str(part.id),
                 "shops": [str(x) for x in part.shop_ids],
                 "cursor": encode_cursor(client.registered_at),
                 "expires_at": expires.isoformat()}
        writer = asyncio.create_task(client.writer(hello))
        if first is not None:  # the auth frame starts delivery (with its resume, if any)
            if first.get("resume") is not None:
                client.resume = parse_resume(first["resume"])
            client.started.set()
        stage = "idle"
        while not client.closed:
            left = (client.expires_at - datetime.now(UTC)).total_seconds()
            if left <= 0:
                raise FrameError(CLOSE_UNAUTHORIZED, f"{ErrorCode.TOKEN_EXPIRED}: the access "
                                                     "token has expired; reconnect")
            try:
                message = await _receive(ws, min(s.chat_ws_idle_timeout_seconds, left))
            except TimeoutError:
                if (client.expires_at - datetime.now(UTC)).total_seconds() <= 0:
                    continue  # the loop answers TOKEN_EXPIRED
                raise
            await _handle(hub, client, parse_frame(message))
    except WebSocketDisconnect:
        pass
    except TimeoutError:
        if stage == "auth":
            await _close(ws, client, CLOSE_TIMEOUT, f"{ErrorCode.LIVE_AUTH_TIMEOUT}: no "
                                                    "authentication in time")
        else:
            await _close(ws, client, CLOSE_TIMEOUT, f"{ErrorCode.LIVE_IDLE_TIMEOUT}: no frame "
                                                    "in time; send pings")
    except FrameError as exc:
        await _close(ws, client, exc.code, exc.reason)
    except UnauthorizedError as exc:
        await _close(ws, client, CLOSE_UNAUTHORIZED, f"{exc.code}: {exc.message}")
    except DomainError as exc:
        await _close(ws, client, CLOSE_INVALID, f"{exc.code}: {exc.message}")
    except Exception:
        if client is None or not client.closed:
            log.exception("live socket failed")
            await _close(ws, client, CLOSE_INTERNAL, f"{ErrorCode.INTERNAL_ERROR}: reconnect")
    finally:
        if client is not None:
            client.closed = True
            hub.unregister(client)
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer


async def _close(ws: WebSocket, client: LiveClient | None, code: int, reason: str) -> None:
    # the reason names the refusal, never the frame or the token
    log.info("live socket of %s closed %d: %s", client.part.id if client else "(unknown)",
             code, reason)
    if client is not None:
        await client.close(code, reason)
        return
    with contextlib.suppress(Exception):
        await ws.close(code, reason.encode()[:123].decode(errors="ignore"))


async def _handle(hub: LiveHub, client: LiveClient, frame: dict[str, Any]) -> None:
    kind = frame["type"]
    first = not client.started.is_set()
    if kind == "resume":
        if not first:
            raise _invalid("resume comes first, once, right after authentication")
        client.resume = parse_resume(frame)
        client.started.set()
        return
    if first:
        client.started.set()  # anything else first: live from now
    if kind == "ping":
        client.push(("frame", {"type": "pong", "id": frame.get("id") if isinstance(
            frame.get("id"), str | int) else None}))
    elif kind == "auth":
        token = frame.get("token")
        if not isinstance(token, str) or not 0 < len(token) <= 4096:
            raise _invalid("auth needs a token")
        part, expires = await hub.db(_authenticate, token,
                                     client.ws.client.host if client.ws.client else None)
        if part.id != client.part.id:
            raise FrameError(CLOSE_UNAUTHORIZED, f"{ErrorCode.UNAUTHORIZED}: another account's "
                                                 "token; reconnect")
        client.expires_at = expires
    elif kind in ("subscribe", "unsubscribe"):
        limit = get_settings().chat_ws_max_subscriptions
        products = _uuids(frame, "products", limit)
        shops = _uuids(frame, "shops", limit)
        if kind == "unsubscribe":
            hub.unwatch(client, products, shops)
            client.push(("frame", {"type": "unsubscribed"}))
            return
        if len(client.products | set(products)) + len(client.shops | set(shops)) > limit:
            client.push(("frame", {"type": "error", "code": ErrorCode.LIVE_TOO_MANY_SUBSCRIPTIONS,
                                   "message": f"at most {limit} products and shops"}))
            return
        await _subscribe(hub, client, products, shops)


async def _subscribe(hub: LiveHub, client: LiveClient, products: list[UUID],
                     shops: list[UUID]) -> None:
    deadline = time.monotonic() + 5.0
    while not hub.ensure_stock() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    live = hub.stock_ready.is_set()
    # watch first, then read the snapshot: a change after the read arrives as an event
    found, known_shops, _ = await hub.db(snapshot, products, shops)
    hub.watch(client, found, known_shops)
    _, _, body = await hub.db(snapshot, list(found), known_shops)
    client.push(("frame", {"type": "subscribed", "live": live, **body}))
    missing = [str(p) for p in products if p not in found]
    if missing:
        client.push(("frame", {"type": "error", "code": ErrorCode.PRODUCT_NOT_FOUND,
                               "ids": missing}))
    gone = [str(s) for s in shops if s not in known_shops]
    if gone:
        client.push(("frame", {"type": "error", "code": ErrorCode.SHOP_NOT_FOUND, "ids": gone}))
