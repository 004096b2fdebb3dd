"""Comments and the comments policy (seed 000 §3.3).

The effective `comments_mode` of a post: its shop's setting (seller posts, if set), else
the platform default (settings.policy.social_comments_mode). Who may comment, checked in this
order (the post must be visible to the commenter, else 404 POST_NOT_FOUND):
- the post's author blocked the commenter → 403 COMMENT_BLOCKED;
- the author and admins may always comment on the post;
- off → 403 COMMENTS_OFF;
- buyers_only → only with a verified purchase → else 403 COMMENTS_BUYERS_ONLY;
- followers_only → only followers of the post's owner (its shop, or its author for a
  user's post) → else 403 COMMENTS_FOLLOWERS_ONLY;
- all → any logged-in account.
`verified_purchase` = the commenter has a paid order from the post's shop (asked of
`orders.purchases`; POS receipts carry no buyer account, so they cannot count). A user's
post has no shop, so no comment on it is a verified purchase.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.audit.log import Actor
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ForbiddenError, NotFoundError, ValidationError
from marketplace_core.orders.purchases import has_paid_order
from marketplace_core.social import graph, ratelimit, stopwords, visibility
from marketplace_core.social.events import emit_comment_changed
from marketplace_core.social.posts import visible_post
from marketplace_core.social.text import MAX_COMMENT, clean_text


@dataclass(frozen=True)
class Comment:
    id: UUID
    post_id: UUID
    author_id: UUID
    text: str
    status: str
    verified_purchase: bool
    created_at: datetime


def effective_mode(conn: Connection, shop_id: UUID | None) -> graph.CommentsMode:
    mode = graph.shop_comments_mode(conn, shop_id) if shop_id else None
    return mode or get_settings().policy.social_comments_mode


def add_comment(conn: Connection, user: Actor, post_id: UUID, text: str) -> Comment:
    body = clean_text(text, limit=MAX_COMMENT, field="comment", required=True)
    post = visible_post(conn, user, post_id)
    if graph.has_blocked(conn, post.author_id, user.id):
        raise ForbiddenError(ErrorCode.COMMENT_BLOCKED,
                             "the post's author does not accept your comments")
    verified = post.shop_id is not None and has_paid_order(conn, user.id, post.shop_id)
    if post.author_id != user.id and user.role != "admin":
        mode = effective_mode(conn, post.shop_id)
        if mode == "off":
            raise ForbiddenError(ErrorCode.COMMENTS_OFF, "comments are turned off here")
        if mode == "buyers_only" and not verified:
            raise ForbiddenError(ErrorCode.COMMENTS_BUYERS_ONLY,
                                 "only buyers with a verified purchase may comment here")
        if mode == "followers_only":
            target: graph.TargetType = "shop" if post.shop_id else "user"
            owner = post.shop_id or post.author_id
            if not graph.is_following(conn, user.id, target, owner):
                raise ForbiddenError(ErrorCode.COMMENTS_FOLLOWERS_ONLY,
                                     "only followers may comment here")
    verdict, hits = stopwords.screen(body)
    if verdict == "reject":
        raise ValidationError(ErrorCode.CONTENT_REJECTED,
                              "the comment contains words that are not allowed")
    ratelimit.check_and_count(conn, user.id, "comment", body)
    row = conn.execute(
        "insert into comments (post_id, author_id, text, status, verified_purchase)"
        " values (%s, %s, %s, %s, %s) returning id, post_id, author_id, text, status,"
        " verified_purchase, created_at",
        (post_id, user.id, body, "flagged" if verdict == "flag" else "visible",
         verified)).fetchone()
    assert row is not None
    comment = Comment(*row)
    if verdict == "flag":
        from marketplace_core.social.moderation import auto_flag
        auto_flag(conn, "comment", post_id, comment.id, hits)
    emit_comment_changed(conn, comment.id, "comment.created")
    return comment


def delete_comment(conn: Connection, user: Actor, comment_id: UUID) -> None:
    """By its author, the post's author, or an admin (soft: status deleted)."""
    row = conn.execute(
        "select c.author_id, p.author_id, c.post_id from comments c join posts p"
        " on p.id = c.post_id where c.id = %s and c.status <> 'deleted' for update of c",
        (comment_id,)).fetchone()
    if row is None:
        raise NotFoundError(ErrorCode.COMMENT_NOT_FOUND, f"comment {comment_id} does not exist")
    author, post_author, _post_id = row
    if user.id not in (author, post_author) and user.role != "admin":
        seen = conn.execute(
            f"select 1 from comments c where c.id = %(id)s and "
            f"{visibility.comment_visible_sql('c')}",
            {**visibility.params(user), "id": comment_id}).fetchone()
        if seen is None:
            raise NotFoundError(ErrorCode.COMMENT_NOT_FOUND, f"comment {comment_id} not found")
        raise ForbiddenError(ErrorCode.FORBIDDEN, "only its author may delete a comment")
    conn.execute("update comments set status = 'deleted', updated_at = now() where id = %s",
                 (comment_id,))
    emit_comment_changed(conn, comment_id, "comment.deleted")
    if user.role == "admin" and user.id != author:
        from marketplace_core import audit
        audit.record(conn, user, "comment.delete", "comment", comment_id)


def encode_cursor(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[str]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return [str(v) for v in values]
    except Exception as exc:
        raise ValidationError(ErrorCode.INVALID_CURSOR, "the cursor is malformed") from exc


def list_comments(conn: Connection, viewer: Actor | None, post_id: UUID, *,
                  cursor: str | None = None, limit: int = 20) -> tuple[list[Comment], str | None]:
    """Oldest first; the next page's cursor (None at the end)."""
    visible_post(conn, viewer, post_id)
    after: tuple[datetime, UUID] | None = None
    if cursor:
        a, b = decode_cursor(cursor, 2)
        try:
            after = (datetime.fromisoformat(a), UUID(b))
        except ValueError as exc:
            raise ValidationError(ErrorCode.INVALID_CURSOR, "the cursor is malformed") from exc
    params = {**visibility.params(viewer), "post": post_id, "limit": limit + 1,
              "after_at": after[0] if after else None, "after_id": after[1] if after else None}
    rows = conn.execute(
        f"""select c.id, c.post_id, c.author_id, c.text, c.status, c.verified_purchase,
                   c.created_at
            from comments c where c.post_id = %(post)s
            and {visibility.comment_visible_sql('c')}
            and (%(after_at)s::timestamptz is null
                 or (c.created_at, c.id) > (%(after_at)s::timestamptz, %(after_id)s::uuid))
            order by c.created_at, c.id limit %(limit)s""", params).fetchall()
    items = [Comment(*r) for r in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        nxt = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return items, nxt
