"""Social showcase (seed 000 §3.2, §3.3, §4.4): posts, reactions, follows, comments, block
lists and the moderation queue.

Posts a viewer may not see answer 404 POST_NOT_FOUND, exactly like missing ones (their
existence never leaks). Bodies over 1 MB are refused with 413 PAYLOAD_TOO_LARGE. Posting
and commenting are rate-limited (429 RATE_LIMITED with Retry-After).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from marketplace_core.api.auth import AdminUser, CurrentUser, OptionalUser
from marketplace_core.api.deps import TOO_LARGE, Pool, limit_body
from marketplace_core.api.schemas.common import ErrorResponse, error_responses
from marketplace_core.api.schemas.social import (
    CommentIn,
    CommentOut,
    CommentPage,
    FollowIn,
    FollowState,
    MediaStatus,
    Ok,
    PostCreate,
    PostOut,
    PostPatch,
    ReactionState,
    ReportCreated,
    ReportIn,
    ReportOut,
    ResolveIn,
    ShopSocialOut,
    ShopSocialPatch,
    UploadIn,
    UploadOut,
)
from marketplace_core.db import Connection, transaction
from marketplace_core.errors import ErrorCode, NotFoundError
from marketplace_core.social import comments, graph, media, moderation, posts

router = APIRouter(tags=["social"], dependencies=[Depends(limit_body)])
moderation_router = APIRouter(tags=["moderation"], dependencies=[Depends(limit_body)])

_RATE: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "RATE_LIMITED (see Retry-After)"}}


def _reaction_state(conn: Connection, user: Any, post_id: UUID) -> ReactionState:
    v = posts.load_views(conn, user, [post_id])[post_id]
    return ReactionState(post_id=post_id, liked=v.liked_by_me, saved=v.saved_by_me,
                         like_count=v.like_count, save_count=v.save_count,
                         share_count=v.share_count)


@router.post(
    "/posts", status_code=201, response_model=PostOut,
    summary="Publish a post (a user's own, or a seller's for a shop they manage)",
    description="1-10 media (photos, videos ≤ 60 s), caption ≤ 2,200 characters "
                "(422 CAPTION_TOO_LONG; control characters 422 INVALID_TEXT), hashtags "
                "from the text plus `tags` (≤ 30, 422 TOO_MANY_TAGS), linked products (404 "
                "PRODUCT_NOT_FOUND; 422 PRODUCT_NOT_IN_SHOP for another shop's), a geo "
                "point (422 INVALID_GEO) or a place. Stop words hold the post for an admin "
                "(`moderation_status=flagged`) or refuse it (422 CONTENT_REJECTED).",
    responses={**error_responses(401, 403, 404, 422), **TOO_LARGE, **_RATE},
)
def create_post(body: PostCreate, user: CurrentUser, pool: Pool) -> PostOut:
    data = posts.PostInput(
        text=body.text, tags=body.tags, shop_id=body.shop_id, product_ids=body.product_ids,
        lat=body.lat, lon=body.lon, place=body.place, visibility=body.visibility,
        media=[posts.MediaInput(**m.model_dump()) for m in body.media])
    with transaction(pool) as conn:
        post_id = posts.create_post(conn, user, data)
        view = posts.visible_post(conn, user, post_id)
    return PostOut.of(view)


@router.get("/posts/{post_id}", response_model=PostOut, summary="A post (if you may see it)",
            responses=error_responses(401, 404, 422))
def get_post(post_id: UUID, user: OptionalUser, pool: Pool) -> PostOut:
    with transaction(pool) as conn:
        return PostOut.of(posts.visible_post(conn, user, post_id))


@router.patch(
    "/posts/{post_id}", response_model=PostOut,
    summary="Pin/unpin, hide/unhide or change the visibility of your post",
    description="At most 3 pinned posts per owner (409 PIN_LIMIT_REACHED).",
    responses=error_responses(401, 403, 404, 409, 422),
)
def patch_post(post_id: UUID, body: PostPatch, user: CurrentUser, pool: Pool) -> PostOut:
    with transaction(pool) as conn:
        posts.update_post(conn, user, post_id, pinned=body.pinned, hidden=body.hidden,
                          visibility_=body.visibility)
        return PostOut.of(posts.visible_post(conn, user, post_id))


@router.delete("/posts/{post_id}", response_model=Ok, summary="Delete your post (soft)",
               responses=error_responses(401, 403, 404, 422))
def delete_post(post_id: UUID, user: CurrentUser, pool: Pool) -> Ok:
    with transaction(pool) as conn:
        posts.delete_post(conn, user, post_id)
    return Ok()


def _react(post_id: UUID, user: Any, pool: Any, reaction: Any, active: bool) -> ReactionState:
    with transaction(pool) as conn:
        posts.set_reaction(conn, user, post_id, reaction, active)
        return _reaction_state(conn, user, post_id)


_REACT_DOC = "Idempotent: a repeat answers 200 with the same state and emits no event."


@router.post("/posts/{post_id}/like", response_model=ReactionState, summary="Like a post",
             description=_REACT_DOC, responses=error_responses(401, 404, 422))
def like(post_id: UUID, user: CurrentUser, pool: Pool) -> ReactionState:
    return _react(post_id, user, pool, "like", True)


@router.delete("/posts/{post_id}/like", response_model=ReactionState,
               summary="Take a like back", description=_REACT_DOC,
               responses=error_responses(401, 404, 422))
def unlike(post_id: UUID, user: CurrentUser, pool: Pool) -> ReactionState:
    return _react(post_id, user, pool, "like", False)


@router.post("/posts/{post_id}/save", response_model=ReactionState, summary="Save a post",
             description=_REACT_DOC, responses=error_responses(401, 404, 422))
def save(post_id: UUID, user: CurrentUser, pool: Pool) -> ReactionState:
    return _react(post_id, user, pool, "save", True)


@router.delete("/posts/{post_id}/save", response_model=ReactionState,
               summary="Remove a post from your saved ones", description=_REACT_DOC,
               responses=error_responses(401, 404, 422))
def unsave(post_id: UUID, user: CurrentUser, pool: Pool) -> ReactionState:
    return _react(post_id, user, pool, "save", False)


@router.post("/posts/{post_id}/share", response_model=ReactionState,
             summary="Record a share of a post (cannot be taken back)",
             responses=error_responses(401, 404, 422))
def share(post_id: UUID, user: CurrentUser, pool: Pool) -> ReactionState:
    with transaction(pool) as conn:
        posts.share(conn, user, post_id)
        return _reaction_state(conn, user, post_id)


@router.post("/posts/{post_id}/hide", response_model=Ok,
             summary="Hide a post for yourself (it leaves your feeds and map)",
             responses=error_responses(401, 404, 422))
def hide_for_me(post_id: UUID, user: CurrentUser, pool: Pool) -> Ok:
    with transaction(pool) as conn:
        posts.hide_for_me(conn, user, post_id)
    return Ok()


@router.post("/posts/{post_id}/report", status_code=201, response_model=ReportCreated,
             summary="Report a post (or one of its comments) to the moderators",
             responses={**error_responses(401, 404, 422), **TOO_LARGE})
def report_post(post_id: UUID, body: ReportIn, user: CurrentUser, pool: Pool) -> ReportCreated:
    with transaction(pool) as conn:
        rid = moderation.report(conn, user, post_id, body.reason, body.comment_id)
    return ReportCreated(id=rid)


# --- follows and blocks ---------------------------------------------------------------


def _set_edge(
    edge: Callable[[Connection, Any, graph.TargetType, UUID, bool], bool],
    body: FollowIn, user: Any, pool: Any, active: bool,
) -> FollowState:
    """Follow/unfollow or block/unblock (`graph.follow` / `graph.block`), idempotent."""
    with transaction(pool) as conn:
        changed = edge(conn, user, body.target_type, body.target_id, active)
    return FollowState(target_type=body.target_type, target_id=body.target_id, active=active,
                       changed=changed)


@router.post("/follow", response_model=FollowState, summary="Follow a shop or a user",
             description="Idempotent. 404 FOLLOW_TARGET_NOT_FOUND, 422 INVALID_FOLLOW_TARGET "
                         "(yourself).",
             responses={**error_responses(401, 404, 422), **TOO_LARGE})
def follow(body: FollowIn, user: CurrentUser, pool: Pool) -> FollowState:
    return _set_edge(graph.follow, body, user, pool, True)


@router.delete("/follow", response_model=FollowState, summary="Unfollow a shop or a user",
               responses={**error_responses(401, 404, 422), **TOO_LARGE})
def unfollow(body: FollowIn, user: CurrentUser, pool: Pool) -> FollowState:
    return _set_edge(graph.follow, body, user, pool, False)


@router.post("/blocks", response_model=FollowState, summary="Block a user or a shop",
             description="Their posts and comments disappear for you, and a blocked user "
                         "cannot comment on your posts (403 COMMENT_BLOCKED).",
             responses={**error_responses(401, 404, 422), **TOO_LARGE})
def block(body: FollowIn, user: CurrentUser, pool: Pool) -> FollowState:
    return _set_edge(graph.block, body, user, pool, True)


@router.delete("/blocks", response_model=FollowState, summary="Unblock a user or a shop",
               responses={**error_responses(401, 404, 422), **TOO_LARGE})
def unblock(body: FollowIn, user: CurrentUser, pool: Pool) -> FollowState:
    return _set_edge(graph.block, body, user, pool, False)


# --- comments ---------------------------------------------------------------------------


@router.get("/posts/{post_id}/comments", response_model=CommentPage,
            summary="A post's comments, oldest first (cursor pagination)",
            responses=error_responses(401, 404, 422))
def list_comments(
    post_id: UUID, user: OptionalUser, pool: Pool,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CommentPage:
    with transaction(pool) as conn:
        items, nxt = comments.list_comments(conn, user, post_id, cursor=cursor, limit=limit)
    return CommentPage(items=[CommentOut.model_validate(c) for c in items], next_cursor=nxt)


@router.post(
    "/posts/{post_id}/comments", status_code=201, response_model=CommentOut,
    summary="Comment on a post (the comments policy applies)",
    description="403 COMMENTS_OFF / COMMENTS_BUYERS_ONLY / COMMENTS_FOLLOWERS_ONLY by the "
                "post's comments mode, 403 COMMENT_BLOCKED if its author blocked you; "
                "422 CONTENT_REJECTED (stop words), CAPTION_TOO_LONG, INVALID_TEXT.",
    responses={**error_responses(401, 403, 404, 422), **TOO_LARGE, **_RATE},
)
def add_comment(post_id: UUID, body: CommentIn, user: CurrentUser, pool: Pool) -> CommentOut:
    with transaction(pool) as conn:
        return CommentOut.model_validate(comments.add_comment(conn, user, post_id, body.text))


@router.delete("/comments/{comment_id}", response_model=Ok,
               summary="Delete a comment (its author, the post's author or an admin)",
               responses=error_responses(401, 403, 404, 422))
def delete_comment(comment_id: UUID, user: CurrentUser, pool: Pool) -> Ok:
    with transaction(pool) as conn:
        comments.delete_comment(conn, user, comment_id)
    return Ok()


@router.patch("/shops/{shop_id}/social", response_model=ShopSocialOut,
              summary="Set the shop's comments policy (owner or admin)",
              responses={**error_responses(401, 403, 404, 422), **TOO_LARGE})
def patch_shop_social(shop_id: UUID, body: ShopSocialPatch, user: CurrentUser,
                      pool: Pool) -> ShopSocialOut:
    with transaction(pool) as conn:
        graph.set_shop_comments_mode(conn, user, shop_id, body.comments_mode)
        return ShopSocialOut(shop_id=shop_id, comments_mode=body.comments_mode,
                             effective_comments_mode=comments.effective_mode(conn, shop_id))


# --- moderation (admins) ----------------------------------------------------------------


@moderation_router.get("/moderation/reports", response_model=list[ReportOut],
                       summary="The moderation queue, newest first (admins)",
                       responses=error_responses(401, 403, 422))
def list_reports(
    user: AdminUser, pool: Pool,
    status: Annotated[str, Query(pattern="^(open|resolved)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: datetime | None = None,
) -> list[ReportOut]:
    with transaction(pool) as conn:
        rows = moderation.list_reports(conn, status, limit, before)  # type: ignore[arg-type]
    return [ReportOut.model_validate(r) for r in rows]


@moderation_router.post(
    "/moderation/reports/{report_id}/resolve", response_model=ReportOut,
    summary="Resolve a report: approve, reject, or shadow-ban the author (admins)",
    description="Resolves every open report on the same content. 409 "
                "REPORT_ALREADY_RESOLVED.",
    responses={**error_responses(401, 403, 404, 409, 422), **TOO_LARGE},
)
def resolve_report(report_id: UUID, body: ResolveIn, user: AdminUser, pool: Pool) -> ReportOut:
    with transaction(pool) as conn:
        return ReportOut.model_validate(moderation.resolve(conn, user, report_id, body.action))


# --- media uploads ----------------------------------------------------------------------


@router.post(
    "/media/uploads", status_code=201, response_model=UploadOut,
    summary="Start a photo or video upload: a presigned PUT URL to the bucket",
    description="Photo ≤ 10 MB, video ≤ 200 MB (413 MEDIA_TOO_LARGE); types image/jpeg, "
                "image/png, image/webp, video/mp4, video/quicktime (422 "
                "UNSUPPORTED_FILE_TYPE). PUT the bytes with the given headers, then call "
                "POST /media/{id}/complete.",
    responses={**error_responses(401, 422), **TOO_LARGE},
)
def start_upload(body: UploadIn, user: CurrentUser, pool: Pool) -> UploadOut:
    with transaction(pool) as conn:
        up = media.create_upload(conn, user, body.kind, body.content_type, body.size_bytes)
    return UploadOut(media_id=up.media_id, upload_url=up.upload_url, headers=up.headers,
                     expires_in=up.expires_in)


@router.post(
    "/media/{media_id}/complete", response_model=MediaStatus,
    summary="The upload is in the bucket: queue it for processing",
    description="409 MEDIA_NOT_FOUND if the object is not stored yet. The worker then "
                "checks the real type (failed with MEDIA_TYPE_MISMATCH), reads size and "
                "duration and makes a thumbnail; poll GET /media/{id} until `ready`.",
    responses=error_responses(401, 404, 409, 422),
)
def complete_upload(media_id: UUID, user: CurrentUser, pool: Pool) -> MediaStatus:
    with transaction(pool) as conn:
        return MediaStatus.model_validate(media.complete(conn, user, media_id))


@router.get("/media/{media_id}", response_model=MediaStatus,
            summary="An upload's processing state (its uploader)",
            responses=error_responses(401, 404, 422))
def media_status(media_id: UUID, user: CurrentUser, pool: Pool) -> MediaStatus:
    with transaction(pool) as conn:
        return MediaStatus.model_validate(media.get(conn, user, media_id))


@moderation_router.post(
    "/moderation/shadow-bans/{user_id}", response_model=Ok,
    summary="Shadow-ban an account directly (admins; audited)",
    description="Its posts and comments stay visible to the account itself and disappear "
                "for everyone else (posts, comments, feeds, map).",
    responses=error_responses(401, 403, 404, 422),
)
def add_shadow_ban(user_id: UUID, user: AdminUser, pool: Pool) -> Ok:
    with transaction(pool) as conn:
        from marketplace_core.accounts import service as accounts
        if accounts.get_user(conn, user_id) is None:
            raise NotFoundError(ErrorCode.USER_NOT_FOUND, f"user {user_id} does not exist")
        moderation.shadow_ban(conn, user, user_id, "direct")
    return Ok()


@moderation_router.delete("/moderation/shadow-bans/{user_id}", response_model=Ok,
                          summary="Lift a shadow ban (admins; audited)",
                          responses=error_responses(401, 403, 422))
def lift_shadow_ban(user_id: UUID, user: AdminUser, pool: Pool) -> Ok:
    with transaction(pool) as conn:
        moderation.lift_shadow_ban(conn, user, user_id)
    return Ok()
