"""What the chat announces to the live channel, and how.

Every change a connected client must see (a new message, a read receipt, a closed
conversation) is announced with Postgres NOTIFY on the channel `chat_live`, in the
transaction that makes the change. Why NOTIFY rather than a Kafka topic the API consumes:

* it is transactional: Postgres delivers a notification only when its transaction
  commits, so a pushed message is always already persisted, and a rolled-back one is
  never pushed;
* every API process LISTENs on one connection of its own, so the fan-out between
  processes (uvicorn workers, hosts) needs nothing but the database they already share,
  and reaches them within milliseconds (no relay poll, no consumer fetch);
* notifications are delivered in commit order, and one conversation's sequence numbers
  are taken under its row lock, so a conversation's messages arrive in sequence order;
* a notification is lost only with the listening connection itself; the API then drops
  its live clients, which reconnect and resume from their cursors (nothing is lost
  because the messages are in the database: the live channel is a hint, the table is the
  truth).

Payloads are small JSON objects (NOTIFY allows < 8000 bytes): the message itself when it
fits, else only its sequence number and each API process reads it from the database.
Stock and Buy-button changes come the other way, from the core's Kafka topics (see
marketplace_core.api.live).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from uuid import UUID

from marketplace_core.db import Connection

if TYPE_CHECKING:
    from marketplace_core.chat.service import Message

CHANNEL = "chat_live"
_MAX_PAYLOAD = 7800


def message_frame(msg: Message) -> dict[str, Any]:
    """A message as the live channel (and its catch-up) sends it."""
    return {
        "type": "message", "conversation_id": str(msg.conversation_id), "seq": msg.seq,
        "id": str(msg.id), "sender_side": msg.sender_side, "sender_id": str(msg.sender_id),
        "kind": msg.kind, "body": msg.body, "client_ref": msg.client_ref,
        "created_at": msg.created_at.isoformat(),
        "attachments": [{"media_id": str(a.media_id), "kind": a.kind,
                         "object_key": a.object_key, "thumb_key": a.thumb_key,
                         "width": a.width, "height": a.height,
                         "duration_s": None if a.duration_s is None else str(a.duration_s)}
                        for a in msg.attachments],
    }


def _notify(conn: Connection, payload: dict[str, Any]) -> None:
    conn.execute("select pg_notify(%s, %s)",
                 (CHANNEL, json.dumps(payload, ensure_ascii=False, separators=(",", ":"))))


def publish_message(conn: Connection, buyer_id: UUID, shop_id: UUID, msg: Message) -> None:
    payload: dict[str, Any] = {"k": "message", "buyer": str(buyer_id), "shop": str(shop_id),
                               "conversation_id": str(msg.conversation_id), "seq": msg.seq,
                               "message": message_frame(msg)}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > _MAX_PAYLOAD:
        payload["message"] = None  # too large for NOTIFY: the listeners read it
    _notify(conn, payload)


def publish_read(conn: Connection, buyer_id: UUID, shop_id: UUID, conversation_id: UUID,
                 side: str, seq: int) -> None:
    _notify(conn, {"k": "read", "buyer": str(buyer_id), "shop": str(shop_id),
                   "conversation_id": str(conversation_id), "side": side, "seq": seq})


def publish_closed(conn: Connection, buyer_id: UUID, shop_id: UUID,
                   conversation_id: UUID) -> None:
    _notify(conn, {"k": "closed", "buyer": str(buyer_id), "shop": str(shop_id),
                   "conversation_id": str(conversation_id)})
