"""Shared helpers of the social API tests."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from marketplace_core.db import transaction
from marketplace_core.outbox.writer import decode
from schemas.topics import CATALOG

IMAGE = {"kind": "image", "object_key": "posts/a.jpg", "width": 1080, "height": 1080,
         "alt_text": "apples"}


def post_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"text": f"Свежие яблоки {secrets.token_hex(4)} #Фрукты",
                            "media": [IMAGE]}
    body.update(over)
    return body


def make_post(client: Any, user: Any, status: int = 201, **over: Any) -> dict[str, Any]:
    r = client.post("/posts", headers=user.headers, json=post_body(**over))
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def events(client: Any, topic: str, entity_id: Any) -> list[dict[str, Any]]:
    """The decoded outbox records of one entity on `topic`, in order."""
    by_name = {t.name: t for t in CATALOG}
    with transaction(client.app.state.pool) as conn:
        rows = conn.execute("select payload from outbox where topic = %s and entity_id = %s"
                            " order by id", (topic, str(entity_id))).fetchall()
    return [decode(by_name[topic], bytes(r[0])) for r in rows]


def all_payload_bytes(client: Any, topic: str) -> list[bytes]:
    with transaction(client.app.state.pool) as conn:
        return [bytes(r[0]) for r in conn.execute(
            "select payload from outbox where topic = %s", (topic,)).fetchall()]


def paid_order(client: Any, buyer_id: UUID, shop_id: UUID, merchant_id: UUID) -> None:
    """A paid order row, written directly (the orders flow is tested elsewhere)."""
    with transaction(client.app.state.pool) as conn:
        conn.execute(
            "insert into orders (buyer_id, shop_id, merchant_id, status, total, fulfilment,"
            " delivery_address, payment_id, reserved_until, created_at, paid_at, updated_at)"
            " values (%s, %s, %s, 'paid', 100, 'delivery', 'Bishkek', gen_random_uuid(),"
            " now() + interval '1 day', now(), now(), now())",
            (buyer_id, shop_id, merchant_id))
