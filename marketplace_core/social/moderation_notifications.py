"""What moderation tells an author (notify.moderation, through the outbox, in the
transaction of the decision): their post rejected or approved again. The reason is a
code (the automatic filter, or users' reports), never the reporters' own words."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.notifications.events import notify


def post_moderated(conn: Connection, post_id: UUID, approved: bool, auto_flagged: bool) -> None:
    row = conn.execute("select author_id, shop_id from posts where id = %s",
                       (post_id,)).fetchone()
    if row is None:
        return
    author_id, shop_id = row
    shop = catalog.get_shop(conn, shop_id) if shop_id is not None else None
    shop_name = shop.name if shop is not None else None
    notify(conn, "moderation_approved" if approved else "moderation_rejected",
           entity_type="post", entity_id=post_id, user_id=author_id, shop_id=shop_id,
           data={"shopName": shop_name or "", "ts": datetime.now(UTC).isoformat(),
                 "reasonCode": "auto_filter" if auto_flagged else "user_reports",
                 "ctaUrl": f"{get_settings().notify_public_url}/posts/{post_id}"})
