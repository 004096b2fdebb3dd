"""Social change events (social.posts, social.reactions, social.comments, social.follows).

Each function reads the committed state back in the caller's transaction (after the row
was written or locked) and emits it through the outbox. Accounts appear only as
pseudonyms; no text is carried (lengths only).
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from marketplace_core.accounts.pseudonyms import pseudonym
from marketplace_core.db import Connection
from marketplace_core.outbox import emit
from schemas.topics import SOCIAL_COMMENTS, SOCIAL_FOLLOWS, SOCIAL_POSTS, SOCIAL_REACTIONS

POST_EVENTS = ("post.created", "post.updated", "post.pinned", "post.unpinned",
               "post.hidden", "post.unhidden", "post.deleted", "post.moderated")
COMMENT_EVENTS = ("comment.created", "comment.flagged", "comment.hidden",
                  "comment.restored", "comment.deleted")


def emit_post_changed(conn: Connection, post_id: UUID, event_type: str) -> UUID:
    if event_type not in POST_EVENTS:
        raise ValueError(f"unknown post event type {event_type!r}")
    row = conn.execute(
        """select p.id, p.owner_type, p.shop_id, p.author_id, p.visibility, p.status,
                  p.moderation_status, p.pinned, p.tags, length(p.text), p.lat, p.lon,
                  p.created_at,
                  coalesce((select array_agg(pp.product_id order by pp.sort)
                            from post_products pp where pp.post_id = p.id), '{}'),
                  (select count(*) from post_media m where m.post_id = p.id),
                  exists (select 1 from post_media m where m.post_id = p.id
                          and m.kind = 'video')
           from posts p where p.id = %s""", (post_id,)).fetchone()
    if row is None:
        raise LookupError(f"post {post_id} does not exist")
    (pid, owner_type, shop_id, author_id, visibility, status, moderation, pinned, tags,
     text_length, lat, lon, created_at, product_ids, media_count, has_video) = row
    record = {
        "post_id": pid, "owner_type": owner_type, "shop_id": _opt(shop_id),
        "author_pseudo_id": pseudonym(conn, author_id), "visibility": visibility,
        "status": status, "moderation_status": moderation, "pinned": pinned,
        "hashtags": list(tags), "product_ids": [str(p) for p in product_ids],
        "media_count": int(media_count), "has_video": bool(has_video),
        "text_length": int(text_length), "lat": _geo(lat), "lon": _geo(lon),
        "created_at": created_at,
    }
    return emit(conn, SOCIAL_POSTS, entity_type="post", entity_id=pid,
                event_type=event_type, record=record)


def emit_comment_changed(conn: Connection, comment_id: UUID, event_type: str) -> UUID:
    if event_type not in COMMENT_EVENTS:
        raise ValueError(f"unknown comment event type {event_type!r}")
    row = conn.execute(
        """select c.id, c.post_id, p.shop_id, c.author_id, c.status, c.verified_purchase,
                  length(c.text), c.created_at
           from comments c join posts p on p.id = c.post_id where c.id = %s""",
        (comment_id,)).fetchone()
    if row is None:
        raise LookupError(f"comment {comment_id} does not exist")
    cid, post_id, shop_id, author_id, status, verified, text_length, created_at = row
    record = {
        "comment_id": cid, "post_id": post_id, "shop_id": _opt(shop_id),
        "user_pseudo_id": pseudonym(conn, author_id), "status": status,
        "verified_purchase": bool(verified), "text_length": int(text_length),
        "created_at": created_at,
    }
    return emit(conn, SOCIAL_COMMENTS, entity_type="comment", entity_id=cid,
                event_type=event_type, record=record)


def emit_reaction_changed(conn: Connection, post_id: UUID, shop_id: UUID | None,
                          user_id: UUID, reaction: str, active: bool) -> UUID:
    record = {"post_id": post_id, "shop_id": _opt(shop_id), "reaction": reaction,
              "user_pseudo_id": pseudonym(conn, user_id), "active": active}
    return emit(conn, SOCIAL_REACTIONS, entity_type="post", entity_id=post_id,
                event_type="reaction.added" if active else "reaction.removed", record=record)


def emit_follow_changed(conn: Connection, follower_id: UUID, target_type: str,
                        target_id: UUID, active: bool) -> UUID:
    follower = pseudonym(conn, follower_id)
    target = str(target_id) if target_type == "shop" else pseudonym(conn, target_id)
    record = {"follower_pseudo_id": follower, "target_type": target_type,
              "target_id": target, "active": active}
    return emit(conn, SOCIAL_FOLLOWS, entity_type="follow", entity_id=follower,
                event_type="follow.added" if active else "follow.removed", record=record)


def _opt(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _geo(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.000001"))
