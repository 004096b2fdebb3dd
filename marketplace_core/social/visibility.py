"""Who sees a post or a comment: one SQL predicate used by every read (post, comments,
feeds, Explore, map), so they cannot disagree.

A post is visible to a viewer if it is not deleted and either
- the viewer is its author (they see their own hidden, flagged or shadow-banned posts) or
  an admin, or
- it is active, not flagged/rejected, its author is not shadow-banned, the viewer has not
  blocked its author (or its shop), and its visibility is `public`, or `followers` and the
  viewer follows its owner (the shop for a seller's post, the author for a user's post).
`private` posts are seen by their author (and admins) only. Anonymous guests see public
posts only. A post the viewer may not see answers 404 POST_NOT_FOUND, like a missing one.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID


class Viewer(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def role(self) -> str: ...


def params(viewer: Viewer | None) -> dict[str, Any]:
    return {"viewer": viewer.id if viewer else None,
            "admin": bool(viewer and viewer.role == "admin")}


def _follows(p: str) -> str:
    return (f"exists (select 1 from social_follows f where f.follower_id = %(viewer)s::uuid"
            f" and ((f.target_type = 'shop' and f.target_id = {p}.shop_id)"
            f" or ({p}.owner_type = 'user' and f.target_type = 'user'"
            f" and f.target_id = {p}.author_id)))")


def blocked_sql(author: str, shop: str = "null") -> str:
    """True if the viewer blocked `author` (or the shop `shop`)."""
    return (f"exists (select 1 from social_blocks k where k.blocker_id = %(viewer)s::uuid"
            f" and ((k.target_type = 'user' and k.target_id = {author})"
            f" or (k.target_type = 'shop' and k.target_id = {shop})))")


def shadow_banned_sql(author: str) -> str:
    return f"exists (select 1 from social_shadow_bans b where b.user_id = {author})"


def post_visible_to_others_sql(p: str = "p") -> str:
    """The second branch of `post_visible_sql` alone (a post not the viewer's own), written
    as a conjunction so the planner can turn the NOT EXISTS into anti-joins: for queries
    over many rows (the map), unioned with the viewer's own posts."""
    return f"""({p}.status = 'active' and {p}.moderation_status = 'ok'
            and not {shadow_banned_sql(f"{p}.author_id")}
            and not {blocked_sql(f"{p}.author_id", f"{p}.shop_id")}
            and ({p}.visibility = 'public'
                 or ({p}.visibility = 'followers' and {_follows(p)})))"""


def post_visible_sql(p: str = "p") -> str:
    return f"""({p}.status <> 'deleted' and (
        {p}.author_id = %(viewer)s::uuid or %(admin)s
        or ({p}.status = 'active' and {p}.moderation_status = 'ok'
            and not {shadow_banned_sql(f"{p}.author_id")}
            and not {blocked_sql(f"{p}.author_id", f"{p}.shop_id")}
            and ({p}.visibility = 'public'
                 or ({p}.visibility = 'followers' and {_follows(p)})))))"""


def comment_visible_sql(c: str = "c") -> str:
    return f"""({c}.status <> 'deleted' and (
        {c}.author_id = %(viewer)s::uuid or %(admin)s
        or ({c}.status = 'visible'
            and not {shadow_banned_sql(f"{c}.author_id")}
            and not {blocked_sql(f"{c}.author_id")})))"""
