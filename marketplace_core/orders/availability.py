"""«Запросить наличие» (spec §3.4): in manual_contact mode a buyer asks the shop whether
an item is in stock. The request is stored for the seller and opens (or continues) the
buyer's conversation with the shop about the product, with the request's message in it
(marketplace_core.chat: the seller is notified and sees it live).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, NotFoundError, ValidationError

MAX_MESSAGE = 2000


@dataclass(frozen=True)
class AvailabilityRequest:
    id: UUID
    shop_id: UUID
    variant_id: UUID | None
    buyer_id: UUID
    message: str
    status: str
    created_at: datetime
    # the chat conversation the request's message went to
    conversation_id: UUID | None = None


_COLS = "id, shop_id, variant_id, buyer_id, message, status, created_at"


def default_message(sku: str | None) -> str:
    """The auto-message when the buyer writes none (ru is the first release language)."""
    item = f" товар {sku}" if sku else " этот товар"
    return f"Здравствуйте! Есть ли в наличии{item}? Хочу купить."


def request_availability(
    conn: Connection,
    shop_id: UUID,
    buyer_id: UUID,
    *,
    variant_id: UUID | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> AvailabilityRequest:
    """Store a buyer's availability question for the shop and post it in the chat.
    Raises SHOP_NOT_FOUND, VARIANT_NOT_FOUND (unknown, deleted or another shop's variant),
    INVALID_ARGUMENT (message longer than 2000 characters), and the chat's refusals
    (CHAT_OWN_SHOP, CHAT_BLOCKED, CHAT_STOP_WORDS, CHAT_RATE_LIMITED)."""
    at = now or datetime.now(UTC)
    if catalog.get_shop(conn, shop_id) is None:
        raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
    sku = None
    product_id = None
    if variant_id is not None:
        variant = catalog.get_variant(conn, variant_id)
        if variant is None or variant.shop_id != shop_id or variant.is_deleted:
            raise NotFoundError(
                ErrorCode.VARIANT_NOT_FOUND, f"shop {shop_id} has no variant {variant_id}")
        sku = variant.sku
        product_id = variant.product_id
    text = (message or "").strip() or default_message(sku)
    if len(text) > MAX_MESSAGE:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"the message has at most {MAX_MESSAGE} characters")
    with conn.cursor(row_factory=class_row(AvailabilityRequest)) as cur:
        row = cur.execute(
            "insert into availability_requests (shop_id, variant_id, buyer_id, message,"
            f" created_at) values (%s, %s, %s, %s, %s) returning {_COLS}".encode(),
            (shop_id, variant_id, buyer_id, text, at),
        ).fetchone()
    assert row is not None
    from marketplace_core.chat.service import open_for_availability_request

    conversation, _ = open_for_availability_request(
        conn, buyer_id, shop_id, product_id, text, row.id, at)
    return replace(row, conversation_id=conversation.id)


def list_requests(
    conn: Connection, shop_id: UUID, *, limit: int = 100, offset: int = 0
) -> list[AvailabilityRequest]:
    """The shop's availability questions, newest first (what the seller answers)."""
    with conn.cursor(row_factory=class_row(AvailabilityRequest)) as cur:
        return cur.execute(
            f"select {_COLS} from availability_requests where shop_id = %s"
            " order by created_at desc, id limit %s offset %s".encode(),
            (shop_id, limit, offset),
        ).fetchall()
