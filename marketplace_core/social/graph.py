"""The social graph: follows (of shops and users) and block lists; the shop's social
settings (its comments policy)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.audit.log import Actor
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, NotFoundError, ValidationError
from marketplace_core.social.events import emit_follow_changed

TargetType = Literal["shop", "user"]
CommentsMode = Literal["all", "buyers_only", "followers_only", "off"]


def _check_target(conn: Connection, user: Actor, target_type: TargetType,
                  target_id: UUID) -> None:
    if target_type == "shop":
        if catalog.get_shop(conn, target_id) is None:
            raise NotFoundError(ErrorCode.FOLLOW_TARGET_NOT_FOUND, f"shop {target_id} not found")
        return
    if target_type != "user":
        raise ValidationError(ErrorCode.INVALID_FOLLOW_TARGET, "target_type is shop or user")
    if target_id == user.id:
        raise ValidationError(ErrorCode.INVALID_FOLLOW_TARGET, "you cannot target yourself")
    from marketplace_core.accounts import service as accounts
    if accounts.get_user(conn, target_id) is None:
        raise NotFoundError(ErrorCode.FOLLOW_TARGET_NOT_FOUND, f"user {target_id} not found")


def follow(conn: Connection, user: Actor, target_type: TargetType, target_id: UUID,
           active: bool) -> bool:
    """Follow or unfollow (idempotent); returns whether anything changed (and emitted)."""
    if active:
        _check_target(conn, user, target_type, target_id)
        row = conn.execute(
            "insert into social_follows (follower_id, target_type, target_id) values"
            " (%s, %s, %s) on conflict do nothing returning 1",
            (user.id, target_type, target_id)).fetchone()
    else:
        row = conn.execute(
            "delete from social_follows where follower_id = %s and target_type = %s"
            " and target_id = %s returning 1", (user.id, target_type, target_id)).fetchone()
    if row is None:
        return False
    emit_follow_changed(conn, user.id, target_type, target_id, active)
    return True


def is_following(conn: Connection, user_id: UUID, target_type: TargetType,
                 target_id: UUID) -> bool:
    row = conn.execute("select 1 from social_follows where follower_id = %s and target_type = %s"
                       " and target_id = %s", (user_id, target_type, target_id)).fetchone()
    return row is not None


def block(conn: Connection, user: Actor, target_type: TargetType, target_id: UUID,
          active: bool) -> bool:
    """Block or unblock a user or a shop (idempotent; audited)."""
    if active:
        _check_target(conn, user, target_type, target_id)
        row = conn.execute(
            "insert into social_blocks (blocker_id, target_type, target_id) values"
            " (%s, %s, %s) on conflict do nothing returning 1",
            (user.id, target_type, target_id)).fetchone()
    else:
        row = conn.execute(
            "delete from social_blocks where blocker_id = %s and target_type = %s"
            " and target_id = %s returning 1", (user.id, target_type, target_id)).fetchone()
    if row is None:
        return False
    audit.record(conn, user, "block.add" if active else "block.remove", target_type, target_id)
    return True


def has_blocked(conn: Connection, blocker_id: UUID, user_id: UUID) -> bool:
    row = conn.execute("select 1 from social_blocks where blocker_id = %s"
                       " and target_type = 'user' and target_id = %s",
                       (blocker_id, user_id)).fetchone()
    return row is not None


def shop_comments_mode(conn: Connection, shop_id: UUID) -> CommentsMode | None:
    row = conn.execute("select comments_mode from social_shop_settings where shop_id = %s",
                       (shop_id,)).fetchone()
    return row[0] if row else None


def set_shop_comments_mode(conn: Connection, user: Actor, shop_id: UUID,
                           mode: CommentsMode | None) -> None:
    """The shop's comments policy (None: follow the platform default); owner or admin."""
    ownership.assert_can_manage_shop(conn, user, shop_id)
    conn.execute(
        "insert into social_shop_settings (shop_id, comments_mode) values (%s, %s)"
        " on conflict (shop_id) do update set comments_mode = excluded.comments_mode,"
        " updated_at = now()", (shop_id, mode))
    audit.record(conn, user, "shop.social_settings", "shop", shop_id, {"comments_mode": mode})
