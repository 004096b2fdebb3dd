"""Media uploads (seed 000 §4.3): presigned direct upload to S3/MinIO, then processing off
the request path.

1. `POST /media/uploads` declares kind, content type and size (photo ≤ 10 MB, video ≤ 200
   MB; else 413 MEDIA_TOO_LARGE; an unsupported type 422 UNSUPPORTED_FILE_TYPE) and gets a
   presigned PUT URL for `media/<id>` (the signature covers the content type and length).
2. The client PUTs the bytes straight to the bucket.
3. `POST /media/{id}/complete` checks the object exists with the declared size and queues
   it (`status = processing`).
4. The worker (`python -m marketplace_core.social.media_worker`) claims queued rows
   (Postgres `for update skip locked`: several workers never take the same row), sniffs the
   real type from the bytes and refuses a mismatch (status failed, MEDIA_TYPE_MISMATCH),
   reads the size of photos (Pillow) and duration/size of videos (ffprobe; > 60 s fails),
   writes a thumbnail `thumbs/<id>.jpg`, and marks the row `ready`.
5. A ready upload is attached to a post with `media: [{"media_id": ...}]`.

The queue is the `post_media` table itself rather than a Kafka topic: the work is tied to
a row that has to change anyway, and a new topic would need a lake table too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Literal
from uuid import UUID, uuid4

from infra.settings import get_settings
from marketplace_core.audit.log import Actor
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)

MB = 1024 * 1024
LIMITS = {"image": 10 * MB, "video": 200 * MB}
CONTENT_TYPES = {"image": ("image/jpeg", "image/png", "image/webp"),
                 "video": ("video/mp4", "video/quicktime")}
URL_TTL_S = 900


@dataclass(frozen=True)
class Upload:
    media_id: UUID
    upload_url: str
    headers: dict[str, str]
    expires_in: int


@dataclass(frozen=True)
class MediaState:
    media_id: UUID
    status: str
    kind: str
    width: int | None
    height: int | None
    duration_s: Decimal | None
    thumb_key: str | None
    error: str | None


def ready_media_ids(conn: Connection, media_ids: list[UUID]) -> set[UUID]:
    """The processed (`ready`) uploads among `media_ids`."""
    if not media_ids:
        return set()
    rows = conn.execute("select id from post_media where id = any(%s) and status = 'ready'",
                        (media_ids,)).fetchall()
    return {r[0] for r in rows}


def s3() -> Any:
    import boto3
    from botocore.config import Config
    s = get_settings()
    return boto3.client("s3", endpoint_url=s.s3_endpoint_url, aws_access_key_id=s.s3_access_key,
                        aws_secret_access_key=s.s3_secret_key, region_name=s.s3_region,
                        config=Config(s3={"addressing_style": "path"},
                                      signature_version="s3v4",
                                      retries={"max_attempts": 3}))


@cache
def ensure_bucket() -> str:
    bucket = get_settings().social_media_bucket
    client = s3()
    try:
        client.head_bucket(Bucket=bucket)
    except Exception:
        client.create_bucket(Bucket=bucket)
    return bucket


def create_upload(conn: Connection, user: Actor, kind: Literal["image", "video"],
                  content_type: str, size_bytes: int) -> Upload:
    if kind not in LIMITS:
        raise ValidationError(ErrorCode.INVALID_MEDIA, "kind is image or video")
    if content_type not in CONTENT_TYPES[kind]:
        raise ValidationError(ErrorCode.UNSUPPORTED_FILE_TYPE,
                              f"{kind} must be one of {', '.join(CONTENT_TYPES[kind])}")
    if size_bytes > LIMITS[kind]:
        raise PayloadTooLargeError(ErrorCode.MEDIA_TOO_LARGE,
                                   f"a {kind} is at most {LIMITS[kind] // MB} MB")
    if size_bytes < 1:
        raise ValidationError(ErrorCode.INVALID_MEDIA, "size_bytes must be positive")
    media_id = uuid4()
    key = f"media/{media_id}"
    conn.execute(
        "insert into post_media (id, uploader_id, kind, object_key, status, content_type,"
        " size_bytes) values (%s, %s, %s, %s, 'pending_upload', %s, %s)",
        (media_id, user.id, kind, key, content_type, size_bytes))
    url = s3().generate_presigned_url(
        "put_object", ExpiresIn=URL_TTL_S, HttpMethod="PUT",
        Params={"Bucket": ensure_bucket(), "Key": key, "ContentType": content_type,
                "ContentLength": size_bytes})
    return Upload(media_id, url, {"Content-Type": content_type}, URL_TTL_S)


def _own(conn: Connection, user: Actor, media_id: UUID, lock: bool = False) -> tuple[Any, ...]:
    row = conn.execute(
        "select id, status, kind, width, height, duration_s, thumb_key, error, object_key,"
        " size_bytes from post_media where id = %s and uploader_id = %s"
        + (" for update" if lock else ""), (media_id, user.id)).fetchone()
    if row is None:
        raise NotFoundError(ErrorCode.MEDIA_NOT_FOUND, f"media {media_id} does not exist")
    return tuple(row)


def complete(conn: Connection, user: Actor, media_id: UUID) -> MediaState:
    """The client finished its PUT: check the object and queue it for processing."""
    row = _own(conn, user, media_id, lock=True)
    if row[1] != "pending_upload":
        return get(conn, user, media_id)  # idempotent
    try:
        head = s3().head_object(Bucket=ensure_bucket(), Key=row[8])
    except Exception as exc:
        raise ConflictError(ErrorCode.MEDIA_NOT_FOUND,
                            "the upload is not in storage yet; PUT it first") from exc
    if int(head["ContentLength"]) != int(row[9]):
        raise ValidationError(ErrorCode.INVALID_MEDIA, "the stored size differs from the "
                              "declared one")
    conn.execute("update post_media set status = 'processing' where id = %s", (media_id,))
    return get(conn, user, media_id)


def get(conn: Connection, user: Actor, media_id: UUID) -> MediaState:
    row = _own(conn, user, media_id)
    return MediaState(*row[:8])


@dataclass(frozen=True)
class ReadyMedia:
    """A processed upload as another domain attaches it (a chat message)."""

    media_id: UUID
    kind: str
    object_key: str
    thumb_key: str | None
    width: int | None
    height: int | None
    duration_s: Decimal | None


def ready_uploads(conn: Connection, user: Actor, media_ids: list[UUID]) -> list[ReadyMedia]:
    """`user`'s processed (`ready`) uploads in the order asked; MEDIA_NOT_FOUND for an id
    that is not one (another account's, still processing, failed, missing)."""
    rows = {r[0]: r for r in conn.execute(
        "select id, kind, object_key, thumb_key, width, height, duration_s from post_media"
        " where id = any(%s) and uploader_id = %s and status = 'ready'",
        (media_ids, user.id)).fetchall()}
    missing = [m for m in media_ids if m not in rows]
    if missing:
        raise NotFoundError(ErrorCode.MEDIA_NOT_FOUND,
                            f"media {missing[0]} is not a processed upload of yours")
    return [ReadyMedia(*rows[m]) for m in media_ids]
