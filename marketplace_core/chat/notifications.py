"""What the chat tells people (notify.chat, through the outbox, in the sending transaction):
a message to the other side of the conversation — `chat_new_message`, or `chat_reply` when
it answers the other side's last message (both render the `chat_new_message` template).

A buyer's message goes to every manager of the shop (audience shop), a shop's message to
the buyer. The event carries ids only (no text, no names: notify.* lands in the lake);
the worker asks `placeholders` for the sender's name and the preview when it delivers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.db import Connection
from marketplace_core.notifications.events import notify

if TYPE_CHECKING:
    from marketplace_core.chat.service import Conversation, Message

PREVIEW_CHARS = 140


def message_sent(conn: Connection, conv: Conversation, msg: Message,
                 previous_side: str | None) -> None:
    event = ("chat_reply" if previous_side is not None and previous_side != msg.sender_side
             else "chat_new_message")
    data = {"conversationId": str(conv.id), "ts": msg.created_at.isoformat(),
            "ctaUrl": f"{get_settings().notify_public_url}/chat/conversations/{conv.id}"}
    if msg.sender_side == "buyer":
        notify(conn, event, entity_type="chat_message", entity_id=msg.id, data=data,
               shop_id=conv.shop_id, to_shop=True, occurred_at=msg.created_at)
    else:
        notify(conn, event, entity_type="chat_message", entity_id=msg.id, data=data,
               user_id=conv.buyer_id, shop_id=conv.shop_id, occurred_at=msg.created_at)


def placeholders(conn: Connection, message_id: Any) -> dict[str, str]:
    """`senderName` (the shop's name, or the buyer's name) and `preview` (the message's
    first 140 characters, 📎 for attachments) of a message, for the notifications worker;
    empty when the message does not exist (the template then fails with its reason)."""
    from marketplace_core.accounts import service as accounts
    from marketplace_core.catalog import service as catalog

    try:
        mid = UUID(str(message_id))
    except ValueError:
        return {}
    row = conn.execute(
        "select m.sender_side, m.sender_id, c.shop_id, m.body,"
        " exists (select 1 from chat_attachments a where a.message_id = m.id)"
        " from chat_messages m join chat_conversations c on c.id = m.conversation_id"
        " where m.id = %s", (mid,)).fetchone()
    if row is None:
        return {}
    side, sender_id, shop_id, body, has_media = row
    name = ""
    if side == "shop":
        shop = catalog.get_shop(conn, shop_id)
        name = shop.name if shop else ""
    else:
        user = accounts.get_user(conn, sender_id)
        name = user.full_name if user else ""
    text = " ".join(str(body).split())
    preview = text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1] + "…"
    if has_media:
        preview = f"📎 {preview}".strip()
    return {"senderName": name, "preview": preview}
