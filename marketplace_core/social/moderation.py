"""Moderation: automatic flags (stop words), user reports, the admins' queue and its
resolutions (approve, reject, shadow-ban the author), and shadow bans.

Every moderation action writes the audit log (the automatic filter as the system actor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from marketplace_core import audit
from marketplace_core.audit.log import Actor
from marketplace_core.db import Connection
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError
from marketplace_core.social import visibility
from marketplace_core.social.events import emit_comment_changed, emit_post_changed
from marketplace_core.social.text import clean_text

Action = Literal["approve", "reject", "shadow_ban_author"]
AUTO_REASON = "stop words: "


@dataclass(frozen=True)
class Report:
    id: UUID
    target_type: str
    post_id: UUID
    comment_id: UUID | None
    reporter_id: UUID | None
    reason: str
    status: str
    action: str | None
    created_at: datetime
    resolved_at: datetime | None
    author_id: UUID
    target_status: str


def auto_flag(conn: Connection, target_type: Literal["post", "comment"], post_id: UUID,
              comment_id: UUID | None, hits: list[str]) -> UUID:
    """Queue content the stop-word filter held back (it is already written as flagged)."""
    row = conn.execute(
        "insert into social_reports (target_type, post_id, comment_id, reporter_id, reason)"
        " values (%s, %s, %s, null, %s) returning id",
        (target_type, post_id, comment_id, (AUTO_REASON + ", ".join(hits))[:500])).fetchone()
    assert row is not None
    audit.record(conn, None, f"{target_type}.auto_flag", target_type, comment_id or post_id,
                 {"terms": hits, "report_id": str(row[0])})
    return row[0]  # type: ignore[no-any-return]


def report(conn: Connection, user: Actor, post_id: UUID, reason: str,
           comment_id: UUID | None = None) -> UUID:
    """A user reports a post (or one of its comments) they can see; a repeat of an open
    report returns the same report."""
    from marketplace_core.social.posts import visible_post
    visible_post(conn, user, post_id)
    text = clean_text(reason, limit=500, field="reason", required=True)
    target = "comment" if comment_id else "post"
    if comment_id is not None:
        found = conn.execute(
            f"select 1 from comments c where c.id = %(id)s and c.post_id = %(post)s and "
            f"{visibility.comment_visible_sql('c')}",
            {**visibility.params(user), "id": comment_id, "post": post_id}).fetchone()
        if found is None:
            raise NotFoundError(ErrorCode.COMMENT_NOT_FOUND, f"comment {comment_id} not found")
    row = conn.execute(
        "insert into social_reports (target_type, post_id, comment_id, reporter_id, reason)"
        " values (%s, %s, %s, %s, %s) on conflict do nothing returning id",
        (target, post_id, comment_id, user.id, text)).fetchone()
    if row is None:
        row = conn.execute(
            "select id from social_reports where reporter_id = %s and target_type = %s"
            " and post_id = %s and comment_id is not distinct from %s and status = 'open'",
            (user.id, target, post_id, comment_id)).fetchone()
    assert row is not None
    audit.record(conn, user, f"{target}.report", target, comment_id or post_id,
                 {"report_id": str(row[0])})
    return row[0]  # type: ignore[no-any-return]


_REPORT_SELECT = """
    select r.id, r.target_type, r.post_id, r.comment_id, r.reporter_id, r.reason, r.status,
           r.action, r.created_at, r.resolved_at,
           coalesce(c.author_id, p.author_id),
           case when r.comment_id is null then p.moderation_status || '/' || p.status
                else c.status end
    from social_reports r join posts p on p.id = r.post_id
    left join comments c on c.id = r.comment_id"""


def list_reports(conn: Connection, status: Literal["open", "resolved"] = "open",
                 limit: int = 50, before: datetime | None = None) -> list[Report]:
    rows = conn.execute(
        _REPORT_SELECT + " where r.status = %s and (%s::timestamptz is null or r.created_at < %s)"
        " order by r.created_at desc limit %s", (status, before, before, limit)).fetchall()
    return [Report(*r) for r in rows]


def resolve(conn: Connection, admin: Actor, report_id: UUID, action: Action) -> Report:
    """Apply an admin's decision to a report and to every open report on the same target.

    approve: the content is fine (a flagged post/comment becomes visible);
    reject: the post becomes `rejected` / the comment `hidden`;
    shadow_ban_author: reject, and the author's content disappears for everyone else."""
    row = conn.execute("select target_type, post_id, comment_id, status from social_reports"
                       " where id = %s for update", (report_id,)).fetchone()
    if row is None:
        raise NotFoundError(ErrorCode.REPORT_NOT_FOUND, f"report {report_id} does not exist")
    target_type, post_id, comment_id, status = row
    if status != "open":
        raise ConflictError(ErrorCode.REPORT_ALREADY_RESOLVED, "the report is already resolved")
    approve = action == "approve"
    if comment_id is None:
        cur = conn.execute("select moderation_status from posts where id = %s for update",
                           (post_id,)).fetchone()
        assert cur is not None
        new = "ok" if approve else "rejected"
        if cur[0] != new:
            conn.execute("update posts set moderation_status = %s, updated_at = now()"
                         " where id = %s", (new, post_id))
            emit_post_changed(conn, post_id, "post.moderated")
            from marketplace_core.social.moderation_notifications import post_moderated
            post_moderated(conn, post_id, approve,
                           auto_flagged=reporter_is_system(conn, report_id))
        author = conn.execute("select author_id from posts where id = %s",
                              (post_id,)).fetchone()
    else:
        cur = conn.execute("select status from comments where id = %s for update",
                           (comment_id,)).fetchone()
        assert cur is not None
        if approve and cur[0] in ("flagged", "hidden"):
            conn.execute("update comments set status = 'visible', updated_at = now()"
                         " where id = %s", (comment_id,))
            emit_comment_changed(conn, comment_id, "comment.restored")
        elif not approve and cur[0] in ("visible", "flagged"):
            conn.execute("update comments set status = 'hidden', updated_at = now()"
                         " where id = %s", (comment_id,))
            emit_comment_changed(conn, comment_id, "comment.hidden")
        author = conn.execute("select author_id from comments where id = %s",
                              (comment_id,)).fetchone()
    assert author is not None
    if action == "shadow_ban_author":
        shadow_ban(conn, admin, author[0], f"report {report_id}")
    conn.execute(
        "update social_reports set status = 'resolved', action = %s, resolved_by = %s,"
        " resolved_at = now() where status = 'open' and target_type = %s and post_id = %s"
        " and comment_id is not distinct from %s",
        (action, admin.id, target_type, post_id, comment_id))
    audit.record(conn, admin, "report.resolve", "report", report_id,
                 {"action": action, "target_type": target_type, "post_id": str(post_id),
                  "comment_id": str(comment_id) if comment_id else None})
    out = conn.execute(_REPORT_SELECT + " where r.id = %s", (report_id,)).fetchone()
    assert out is not None
    return Report(*out)


def reporter_is_system(conn: Connection, report_id: UUID) -> bool:
    """Whether the report came from the stop-word filter (no reporter)."""
    row = conn.execute("select reporter_id is null from social_reports where id = %s",
                       (report_id,)).fetchone()
    return bool(row and row[0])


def shadow_ban(conn: Connection, admin: Actor, user_id: UUID, reason: str | None = None) -> None:
    conn.execute("insert into social_shadow_bans (user_id, banned_by, reason) values"
                 " (%s, %s, %s) on conflict (user_id) do nothing", (user_id, admin.id, reason))
    audit.record(conn, admin, "user.shadow_ban", "user", user_id, {"reason": reason})


def lift_shadow_ban(conn: Connection, admin: Actor, user_id: UUID) -> None:
    conn.execute("delete from social_shadow_bans where user_id = %s", (user_id,))
    audit.record(conn, admin, "user.shadow_ban_lift", "user", user_id)


def report_dict(r: Report) -> dict[str, Any]:
    return r.__dict__.copy()
