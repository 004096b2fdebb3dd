"""Posts: create (by a seller for a shop they manage, or by any user), read, pin, hide,
change visibility, delete (soft); reactions (like, save, share) and "hide for me".

Every committed change emits its event (marketplace_core.social.events) in the same
transaction. Visibility rules: marketplace_core.social.visibility.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.audit.log import Actor
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from marketplace_core.social import ratelimit, stopwords, visibility
from marketplace_core.social.events import emit_post_changed, emit_reaction_changed
from marketplace_core.social.text import MAX_CAPTION, clean_text, collect_tags

Visibility = Literal["public", "followers", "private"]
MAX_PINNED = 3
MAX_MEDIA = 10
MAX_PRODUCTS = 20
MAX_VIDEO_SECONDS = 60


@dataclass(frozen=True)
class MediaInput:
    """An inline media reference (object already stored) or the id of an uploaded,
    processed `post_media` row."""

    kind: Literal["image", "video"] | None = None
    object_key: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: Decimal | None = None
    alt_text: str | None = None
    media_id: UUID | None = None


@dataclass(frozen=True)
class PostInput:
    text: str = ""
    tags: list[str] = field(default_factory=list)
    shop_id: UUID | None = None
    product_ids: list[UUID] = field(default_factory=list)
    lat: Decimal | None = None
    lon: Decimal | None = None
    place: str | None = None
    visibility: Visibility = "public"
    media: list[MediaInput] = field(default_factory=list)


@dataclass
class Media:
    id: UUID
    kind: str
    object_key: str
    thumb_key: str | None
    width: int | None
    height: int | None
    duration_s: Decimal | None
    alt_text: str | None
    sort: int


@dataclass
class PostView:
    id: UUID
    owner_type: str
    shop_id: UUID | None
    author_id: UUID
    text: str
    tags: list[str]
    lat: Decimal | None
    lon: Decimal | None
    place: str | None
    visibility: str
    status: str
    moderation_status: str
    pinned: bool
    created_at: Any
    updated_at: Any
    product_ids: list[UUID] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)
    like_count: int = 0
    save_count: int = 0
    share_count: int = 0
    comment_count: int = 0
    liked_by_me: bool = False
    saved_by_me: bool = False
    score: float | None = None
    score_parts: dict[str, float] | None = None


def _not_found(post_id: UUID) -> NotFoundError:
    return NotFoundError(ErrorCode.POST_NOT_FOUND, f"post {post_id} does not exist")


def _geo(lat: Decimal | None, lon: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    if (lat is None) != (lon is None):
        raise ValidationError(ErrorCode.INVALID_GEO, "lat and lon go together")
    if lat is None or lon is None:
        return None, None
    try:
        la, lo = Decimal(str(lat)), Decimal(str(lon))
    except Exception as exc:
        raise ValidationError(ErrorCode.INVALID_GEO, "lat/lon must be numbers") from exc
    if not (la.is_finite() and lo.is_finite() and -90 <= la <= 90 and -180 <= lo <= 180):
        raise ValidationError(ErrorCode.INVALID_GEO,
                              "lat must be within [-90, 90] and lon within [-180, 180]")
    q = Decimal("0.000001")
    return la.quantize(q), lo.quantize(q)


def _check_media(items: list[MediaInput]) -> None:
    if not 1 <= len(items) <= MAX_MEDIA:
        raise ValidationError(ErrorCode.INVALID_MEDIA,
                              f"a post carries 1 to {MAX_MEDIA} photos or videos")
    for i, m in enumerate(items):
        if m.media_id is not None:
            continue
        where = f"media[{i}]"
        if m.kind not in ("image", "video"):
            raise ValidationError(ErrorCode.INVALID_MEDIA, f"{where}.kind is image or video")
        if not m.object_key or len(m.object_key) > 512:
            raise ValidationError(ErrorCode.INVALID_MEDIA, f"{where}.object_key is required")
        for dim in ("width", "height"):
            v = getattr(m, dim)
            if v is not None and not 1 <= v <= 20000:
                raise ValidationError(ErrorCode.INVALID_MEDIA, f"{where}.{dim} out of range")
        if m.kind == "video":
            if m.duration_s is None or not 0 < m.duration_s <= MAX_VIDEO_SECONDS:
                raise ValidationError(
                    ErrorCode.INVALID_MEDIA,
                    f"{where}: a video lasts more than 0 and at most {MAX_VIDEO_SECONDS} s")
        elif m.duration_s is not None:
            raise ValidationError(ErrorCode.INVALID_MEDIA, f"{where}: an image has no duration")
        if m.alt_text is not None:
            clean_text(m.alt_text, limit=500, field=f"{where}.alt_text")


def create_post(conn: Connection, user: Actor, data: PostInput) -> UUID:
    """Create a post; returns its id. A seller's post (`shop_id` given) needs a shop the
    user manages and products of that shop; a user's post may link any live product.
    Stop words flag the post for an admin (hidden from others) or refuse it outright
    (422 CONTENT_REJECTED). Posting is rate-limited (429 RATE_LIMITED)."""
    text = clean_text(data.text, limit=MAX_CAPTION, field="caption")
    tags = collect_tags(text, data.tags)
    lat, lon = _geo(data.lat, data.lon)
    place = clean_text(data.place, limit=200, field="place") or None
    if data.visibility not in ("public", "followers", "private"):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "visibility is public|followers|private")
    _check_media(data.media)
    if len(set(data.product_ids)) > MAX_PRODUCTS:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT,
                              f"at most {MAX_PRODUCTS} linked products")
    if data.shop_id is not None:
        ownership.assert_can_manage_shop(conn, user, data.shop_id)
    products = list(dict.fromkeys(data.product_ids))
    found = {p.id: p for p in catalog.get_products(conn, products)} if products else {}
    for pid in products:
        product = found.get(pid)
        if product is None or product.is_deleted:
            raise NotFoundError(ErrorCode.PRODUCT_NOT_FOUND, f"product {pid} does not exist")
        if data.shop_id is not None and product.shop_id != data.shop_id:
            raise ValidationError(ErrorCode.PRODUCT_NOT_IN_SHOP,
                                  f"product {pid} is not sold by shop {data.shop_id}")
    verdict, hits = stopwords.screen(" ".join([text, place or ""]))
    if verdict == "reject":
        raise ValidationError(ErrorCode.CONTENT_REJECTED,
                              "the post contains words that are not allowed")
    ratelimit.check_and_count(conn, user.id, "post", text or None)
    row = conn.execute(
        """insert into posts (owner_type, shop_id, author_id, text, tags, lat, lon, place,
                              visibility, moderation_status)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id""",
        ("seller" if data.shop_id else "user", data.shop_id, user.id, text, tags, lat, lon,
         place, data.visibility, "flagged" if verdict == "flag" else "ok")).fetchone()
    assert row is not None
    post_id: UUID = row[0]
    _attach_media(conn, user, post_id, data.media)
    for sort, pid in enumerate(products):
        conn.execute("insert into post_products (post_id, product_id, sort) values (%s, %s, %s)",
                     (post_id, pid, sort))
    if verdict == "flag":
        from marketplace_core.social.moderation import auto_flag
        auto_flag(conn, "post", post_id, None, hits)
    emit_post_changed(conn, post_id, "post.created")
    return post_id


def _attach_media(conn: Connection, user: Actor, post_id: UUID,
                  items: list[MediaInput]) -> None:
    for sort, m in enumerate(items):
        if m.media_id is not None:
            row = conn.execute(
                "update post_media set post_id = %s, sort = %s where id = %s"
                " and uploader_id = %s and post_id is null and status = 'ready' returning id",
                (post_id, sort, m.media_id, user.id)).fetchone()
            if row is None:
                raise NotFoundError(ErrorCode.MEDIA_NOT_FOUND,
                                    f"media {m.media_id} is not a processed upload of yours")
            continue
        conn.execute(
            """insert into post_media (post_id, uploader_id, kind, object_key, width, height,
                                       duration_s, alt_text, sort)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (post_id, user.id, m.kind, m.object_key, m.width, m.height, m.duration_s,
             m.alt_text, sort))


_VIEW_COLS = ("p.id, p.owner_type, p.shop_id, p.author_id, p.text, p.tags, p.lat, p.lon,"
              " p.place, p.visibility, p.status, p.moderation_status, p.pinned, p.created_at,"
              " p.updated_at")


def visible_ids(conn: Connection, viewer: Actor | None, ids: list[UUID], *,
                exclude_hidden_for_me: bool = False) -> set[UUID]:
    """Which of `ids` the viewer may see (feeds also drop posts they hid for themselves)."""
    if not ids:
        return set()
    extra = (" and not exists (select 1 from post_hides h where h.user_id = %(viewer)s::uuid"
             " and h.post_id = p.id)") if exclude_hidden_for_me else ""
    rows = conn.execute(
        f"select p.id from posts p where p.id = any(%(ids)s) and "
        f"{visibility.post_visible_sql('p')}{extra}",
        {**visibility.params(viewer), "ids": ids}).fetchall()
    return {r[0] for r in rows}


_VIEW_SQL = f"""
    select {_VIEW_COLS},
      coalesce((select json_agg(json_build_object(
                  'id', m.id, 'kind', m.kind, 'object_key', m.object_key,
                  'thumb_key', m.thumb_key, 'width', m.width, 'height', m.height,
                  'duration_s', m.duration_s::text, 'alt_text', m.alt_text, 'sort', m.sort)
                  order by m.sort)
                from post_media m where m.post_id = p.id), '[]'::json),
      coalesce((select array_agg(pp.product_id order by pp.sort)
                from post_products pp where pp.post_id = p.id), '{{}}'),
      (select count(*) from post_reactions r where r.post_id = p.id and r.reaction = 'like'),
      (select count(*) from post_reactions r where r.post_id = p.id and r.reaction = 'save'),
      (select count(*) from post_shares sh where sh.post_id = p.id),
      (select count(*) from comments c where c.post_id = p.id and c.status = 'visible'),
      exists (select 1 from post_reactions r where r.post_id = p.id
              and r.reaction = 'like' and r.user_id = %(viewer)s::uuid),
      exists (select 1 from post_reactions r where r.post_id = p.id
              and r.reaction = 'save' and r.user_id = %(viewer)s::uuid)
    from posts p where p.id = any(%(ids)s)"""


def _view(row: Any) -> PostView:
    view = PostView(*row[:15])
    view.media = [Media(id=UUID(m["id"]), kind=m["kind"], object_key=m["object_key"],
                        thumb_key=m["thumb_key"], width=m["width"], height=m["height"],
                        duration_s=None if m["duration_s"] is None else Decimal(m["duration_s"]),
                        alt_text=m["alt_text"], sort=m["sort"]) for m in row[15]]
    view.product_ids = list(row[16])
    (view.like_count, view.save_count, view.share_count, view.comment_count,
     view.liked_by_me, view.saved_by_me) = row[17:23]
    return view


def load_views(conn: Connection, viewer: Actor | None, ids: list[UUID], *,
               check_visible: bool = False,
               exclude_hidden_for_me: bool = False) -> dict[UUID, PostView]:
    """The posts with media, products, counts and the viewer's own reactions, in one
    query; with `check_visible`, only those the viewer may see (see `visible_ids`)."""
    if not ids:
        return {}
    sql = _VIEW_SQL
    if check_visible:
        sql += f" and {visibility.post_visible_sql('p')}"
    if exclude_hidden_for_me:
        sql += (" and not exists (select 1 from post_hides h"
                " where h.user_id = %(viewer)s::uuid and h.post_id = p.id)")
    rows = conn.execute(sql, {**visibility.params(viewer), "ids": ids}).fetchall()
    return {r[0]: _view(r) for r in rows}


def public_post_ids(conn: Connection, post_ids: list[UUID]) -> set[UUID]:
    """The posts among `post_ids` that are active, public and passed moderation (what an
    ad may boost)."""
    if not post_ids:
        return set()
    rows = conn.execute(
        "select id from posts where id = any(%s) and status = 'active'"
        " and visibility = 'public' and moderation_status = 'ok'", (post_ids,)).fetchall()
    return {r[0] for r in rows}


def visible_post(conn: Connection, viewer: Actor | None, post_id: UUID) -> PostView:
    """The post as `viewer` sees it, or 404 POST_NOT_FOUND (missing or not visible)."""
    if post_id not in visible_ids(conn, viewer, [post_id]):
        raise _not_found(post_id)
    return load_views(conn, viewer, [post_id])[post_id]


def _lock_manageable(conn: Connection, user: Actor, post_id: UUID) -> tuple[Any, ...]:
    """Lock the post for a change by its author, a manager of its shop or an admin."""
    row = conn.execute(
        "select id, owner_type, shop_id, author_id, status, pinned, visibility from posts"
        " where id = %s and status <> 'deleted' for update", (post_id,)).fetchone()
    if row is None:
        raise _not_found(post_id)
    if row[3] == user.id or user.role == "admin":
        return tuple(row)
    if row[2] is not None and user.role == "seller":
        try:
            ownership.assert_can_manage_shop(conn, user, row[2])
            return tuple(row)
        except ForbiddenError:
            pass
    if post_id in visible_ids(conn, user, [post_id]):
        raise ForbiddenError(ErrorCode.FORBIDDEN, "only the post's author may change it")
    raise _not_found(post_id)


def update_post(conn: Connection, user: Actor, post_id: UUID, *, pinned: bool | None = None,
                hidden: bool | None = None, visibility_: Visibility | None = None) -> None:
    """Pin/unpin (at most 3 pinned per owner: the shop, or the user), hide/unhide,
    change visibility; one event per change."""
    _pid, _owner_type, shop_id, author_id, status, was_pinned, vis = _lock_manageable(
        conn, user, post_id)
    if pinned is not None and pinned != was_pinned:
        if pinned:
            owner_col, owner = ("shop_id", shop_id) if shop_id else ("author_id", author_id)
            conn.execute("select pg_advisory_xact_lock(hashtext('social-pin'), hashtext(%s))",
                         (str(owner),))
            extra = "" if shop_id else " and owner_type = 'user'"
            n = conn.execute(
                f"select count(*) from posts where {owner_col} = %s and pinned"
                f" and status <> 'deleted'{extra}", (owner,)).fetchone()
            if n is not None and n[0] >= MAX_PINNED:
                raise ConflictError(ErrorCode.PIN_LIMIT_REACHED,
                                    f"at most {MAX_PINNED} pinned posts; unpin one first")
        conn.execute("update posts set pinned = %s, updated_at = now() where id = %s",
                     (pinned, post_id))
        emit_post_changed(conn, post_id, "post.pinned" if pinned else "post.unpinned")
    if hidden is not None and hidden != (status == "hidden"):
        conn.execute("update posts set status = %s, updated_at = now() where id = %s",
                     ("hidden" if hidden else "active", post_id))
        emit_post_changed(conn, post_id, "post.hidden" if hidden else "post.unhidden")
    if visibility_ is not None and visibility_ != vis:
        conn.execute("update posts set visibility = %s, updated_at = now() where id = %s",
                     (visibility_, post_id))
        emit_post_changed(conn, post_id, "post.updated")
    if user.role == "admin" and author_id != user.id:
        audit.record(conn, user, "post.update", "post", post_id,
                     {"pinned": pinned, "hidden": hidden, "visibility": visibility_})


def delete_post(conn: Connection, user: Actor, post_id: UUID) -> None:
    _lock_manageable(conn, user, post_id)
    conn.execute("update posts set status = 'deleted', pinned = false, deleted_at = now(),"
                 " updated_at = now() where id = %s", (post_id,))
    emit_post_changed(conn, post_id, "post.deleted")
    if user.role in ("admin", "seller"):
        audit.record(conn, user, "post.delete", "post", post_id)


def _visible_locked(conn: Connection, user: Actor, post_id: UUID) -> UUID | None:
    """The post's shop id, after checking the user may see it (404 otherwise)."""
    if post_id not in visible_ids(conn, user, [post_id]):
        raise _not_found(post_id)
    row = conn.execute("select shop_id from posts where id = %s for share",
                       (post_id,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def set_reaction(conn: Connection, user: Actor, post_id: UUID, reaction: Literal["like", "save"],
                 active: bool) -> bool:
    """Like/save or take it back; idempotent (a repeat changes nothing and emits nothing).
    Returns whether an event was emitted."""
    shop_id = _visible_locked(conn, user, post_id)
    if active:
        row = conn.execute(
            "insert into post_reactions (post_id, user_id, reaction) values (%s, %s, %s)"
            " on conflict do nothing returning post_id", (post_id, user.id, reaction)).fetchone()
    else:
        row = conn.execute(
            "delete from post_reactions where post_id = %s and user_id = %s and reaction = %s"
            " returning post_id", (post_id, user.id, reaction)).fetchone()
    if row is None:
        return False
    emit_reaction_changed(conn, post_id, shop_id, user.id, reaction, active)
    return True


def share(conn: Connection, user: Actor, post_id: UUID) -> None:
    """Record a share (each share counts and emits; it cannot be taken back)."""
    shop_id = _visible_locked(conn, user, post_id)
    conn.execute("insert into post_shares (post_id, user_id) values (%s, %s)",
                 (post_id, user.id))
    emit_reaction_changed(conn, post_id, shop_id, user.id, "share", True)


def hide_for_me(conn: Connection, user: Actor, post_id: UUID) -> None:
    """The post leaves the user's feeds, Explore and map (a private preference, no event)."""
    _visible_locked(conn, user, post_id)
    conn.execute("insert into post_hides (user_id, post_id) values (%s, %s)"
                 " on conflict do nothing", (user.id, post_id))
