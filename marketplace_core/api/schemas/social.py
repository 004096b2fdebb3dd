"""Request and response models of the social API (posts, comments, follows, moderation,
feeds, map)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from marketplace_core.api.schemas.ad_slot import AdOut
from marketplace_core.api.schemas.common import RecordOut
from marketplace_core.social import comments, media, moderation, posts
from platform_common.validated import Int32, Int64, Measure, Text

Visibility = Literal["public", "followers", "private"]
TargetType = Literal["shop", "user"]
CommentsMode = Literal["all", "buyers_only", "followers_only", "off"]


class MediaIn(BaseModel):
    """Either `media_id` (a processed upload, POST /media/uploads) or an inline reference
    to an object already stored (kind, object_key, ...)."""

    media_id: UUID | None = None
    kind: Literal["image", "video"] | None = None
    object_key: Text | None = Field(default=None, max_length=512)
    width: Int32 | None = Field(default=None, ge=1, le=20000)
    height: Int32 | None = Field(default=None, ge=1, le=20000)
    duration_s: Measure | None = Field(default=None, description="Video length, ≤ 60 s")
    alt_text: str | None = Field(default=None, max_length=2000)


class PostCreate(BaseModel):
    text: str = Field(default="", max_length=100_000,
                      description="Caption, ≤ 2,200 characters (else 422 CAPTION_TOO_LONG)")
    tags: list[Text] = Field(default_factory=list, max_length=100)
    shop_id: UUID | None = Field(default=None,
                                 description="Post for this shop (a seller managing it)")
    product_ids: list[UUID] = Field(default_factory=list, max_length=100)
    lat: Measure | None = None  # range: the domain's INVALID_GEO
    lon: Measure | None = None
    place: str | None = Field(default=None, max_length=2000)
    visibility: Visibility = "public"
    media: list[MediaIn] = Field(min_length=1, max_length=10)


class PostPatch(BaseModel):
    pinned: bool | None = None
    hidden: bool | None = None
    visibility: Visibility | None = None


class MediaOut(RecordOut, record=posts.Media):
    pass


class PostOut(BaseModel):
    id: UUID
    owner_type: str
    shop_id: UUID | None
    author_id: UUID
    text: str
    tags: list[str]
    product_ids: list[UUID]
    media: list[MediaOut]
    lat: Decimal | None
    lon: Decimal | None
    place: str | None
    visibility: str
    status: str
    moderation_status: str
    pinned: bool
    like_count: int
    save_count: int
    share_count: int
    comment_count: int
    liked_by_me: bool
    saved_by_me: bool
    created_at: datetime
    updated_at: datetime
    score: float | None = None
    score_parts: dict[str, float] | None = Field(
        default=None, description="Explore with explain=1: stored and request-time parts")
    ad: AdOut | None = Field(default=None, description="Set when the item is an ad (boost)")

    @classmethod
    def of(cls, view: Any) -> PostOut:
        data = dict(view.__dict__)
        data["media"] = [MediaOut(**m.__dict__) for m in view.media]
        return cls(**data)


class PostPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None


class ReactionState(BaseModel):
    post_id: UUID
    liked: bool
    saved: bool
    like_count: int
    save_count: int
    share_count: int


class FollowIn(BaseModel):
    target_type: TargetType
    target_id: UUID


class FollowState(BaseModel):
    target_type: TargetType
    target_id: UUID
    active: bool = Field(description="Following (or blocking) after the request")
    changed: bool


class CommentIn(BaseModel):
    text: str = Field(max_length=100_000, description="≤ 2,200 characters")


class CommentOut(RecordOut, record=comments.Comment):
    pass


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None


class ReportIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    comment_id: UUID | None = Field(default=None, description="Report this comment instead")


class ReportCreated(BaseModel):
    id: UUID


class ReportOut(RecordOut, record=moderation.Report):
    pass


class ResolveIn(BaseModel):
    action: Literal["approve", "reject", "shadow_ban_author"]


class ShopSocialPatch(BaseModel):
    comments_mode: CommentsMode | None = Field(
        description="null: follow the platform default")


class ShopSocialOut(BaseModel):
    shop_id: UUID
    comments_mode: CommentsMode | None
    effective_comments_mode: CommentsMode


class Ok(BaseModel):
    ok: bool = True


class MapCluster(BaseModel):
    lat: float
    lon: float
    count: int
    id: UUID | None = Field(default=None, description="The single item of a 1-point cluster")


class MapOut(BaseModel):
    zoom: int
    cell_deg: float
    clusters: list[MapCluster]


class UploadIn(BaseModel):
    kind: Literal["image", "video"]
    content_type: Text = Field(max_length=100, examples=["image/jpeg"])
    size_bytes: Int64 = Field(ge=1)


class UploadOut(BaseModel):
    media_id: UUID
    upload_url: str
    method: str = "PUT"
    headers: dict[str, str]
    expires_in: int


class MediaStatus(RecordOut, record=media.MediaState):
    pass
