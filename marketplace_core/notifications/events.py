"""What the domains call: `notify(...)` writes one notify.* event into the outbox, in the
caller's transaction (the notification exists if and only if the change committed).

Events carry ids and the template's placeholders, never names or addresses: the worker
looks up who the recipients are (a user, or every manager of a shop), their names,
languages and addresses when it delivers.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from marketplace_core.db import Connection
from marketplace_core.notifications.catalog import TYPES
from marketplace_core.outbox import emit
from schemas.topics import (
    NOTIFY_ANALYTICS,
    NOTIFY_CHAT,
    NOTIFY_MODERATION,
    NOTIFY_ORDER,
    NOTIFY_POS,
    Topic,
)

TOPIC_BY_CATEGORY: dict[str, Topic] = {
    "order": NOTIFY_ORDER, "chat": NOTIFY_CHAT, "pos": NOTIFY_POS,
    "moderation": NOTIFY_MODERATION, "analytics": NOTIFY_ANALYTICS,
}


def notify(conn: Connection, event_type: str, *, entity_type: str, entity_id: UUID | str,
           data: dict[str, str], user_id: UUID | None = None, shop_id: UUID | None = None,
           to_shop: bool = False, occurred_at: datetime | None = None) -> UUID:
    """Ask for a notification of `event_type` (a key of catalog.TYPES) to `user_id`, or,
    with `to_shop`, to every manager of `shop_id`. `shop_id` also names the shop the event
    is about (per-shop preferences, the shopName placeholder)."""
    ntype = TYPES[event_type]
    if (to_shop and shop_id is None) or (not to_shop and user_id is None):
        raise ValueError("a notification needs a user, or a shop with to_shop")
    recipient = shop_id if to_shop else user_id
    assert recipient is not None
    return emit(
        conn, TOPIC_BY_CATEGORY[ntype.category],
        entity_type="notification", entity_id=recipient, event_type=event_type,
        occurred_at=occurred_at,
        record={
            "audience": "shop" if to_shop else "user",
            "recipient_user_id": None if to_shop else user_id,
            "recipient_shop_id": shop_id if to_shop else None,
            "shop_id": shop_id,
            "entity_type": entity_type,
            "entity_id": str(entity_id),
            "priority": ntype.priority,
            "consent": ntype.consent,
            "data_json": json.dumps({k: str(v) for k, v in data.items()}, ensure_ascii=False,
                                    sort_keys=True),
        },
    )
