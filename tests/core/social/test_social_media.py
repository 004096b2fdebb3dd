"""Media uploads: presigned PUT to MinIO, completion, the worker (real type, size,
duration, thumbnail), limits, and attaching a processed upload to a post."""

from __future__ import annotations

import io
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client import REGISTRY

from infra.settings import get_settings
from marketplace_core.social import media
from marketplace_core.social.media_worker import process
from tests.core.auth_helpers import make_user
from tests.core.social.social_helpers import code


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"test-social-{secrets.token_hex(4)}"
    monkeypatch.setattr(get_settings(), "social_media_bucket", name)
    media.ensure_bucket.cache_clear()
    try:
        media.ensure_bucket()
    except Exception as exc:  # pragma: no cover - the data services are not running
        pytest.skip(f"MinIO unavailable: {exc}")
    yield name
    client = media.s3()
    for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)
    media.ensure_bucket.cache_clear()


def _png(w: int = 800, h: int = 600) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _upload(client: Any, user: Any, kind: str, content_type: str, data: bytes) -> str:
    r = client.post("/media/uploads", headers=user.headers, json={
        "kind": kind, "content_type": content_type, "size_bytes": len(data)})
    assert r.status_code == 201, r.text
    up = r.json()
    put = httpx.put(up["upload_url"], content=data, headers=up["headers"], timeout=30)
    assert put.status_code == 200, put.text
    done = client.post(f"/media/{up['media_id']}/complete", headers=user.headers)
    assert done.status_code == 200 and done.json()["status"] == "processing", done.text
    return str(up["media_id"])


def _metric(name: str, **labels: str) -> float:
    """The worker's Prometheus series (MEDIA_WORKER_METRICS_PORT serves this registry)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _drain(core_dsn: str) -> None:
    with psycopg.connect(core_dsn, autocommit=True) as conn:
        while process(conn):
            pass


def test_photo_upload_processed_and_attached(core_api: Any, core_dsn: str,
                                             bucket: str) -> None:
    user = make_user(core_api, "buyer")
    media_id = _upload(core_api, user, "image", "image/png", _png())
    ready = _metric("media_processed_total", kind="image", result="ready")
    _drain(core_dsn)
    state = core_api.get(f"/media/{media_id}", headers=user.headers).json()
    assert state["status"] == "ready", state
    assert _metric("media_processed_total", kind="image", result="ready") == ready + 1
    assert _metric("media_processing_seconds_count", kind="image") >= 1
    assert (state["width"], state["height"]) == (800, 600)
    thumb = media.s3().get_object(Bucket=bucket, Key=state["thumb_key"])["Body"].read()
    assert thumb[:3] == b"\xff\xd8\xff"
    r = core_api.post("/posts", headers=user.headers,
                      json={"text": "фото", "media": [{"media_id": media_id}]})
    assert r.status_code == 201, r.text
    assert r.json()["media"][0]["id"] == media_id
    # an upload attaches once, and only its uploader's
    other = make_user(core_api, "buyer")
    r = core_api.post("/posts", headers=other.headers,
                      json={"media": [{"media_id": media_id}]})
    assert r.status_code == 404 and code(r) == "MEDIA_NOT_FOUND"


def test_declared_type_must_match_the_bytes(core_api: Any, core_dsn: str, bucket: str) -> None:
    user = make_user(core_api, "buyer")
    media_id = _upload(core_api, user, "image", "image/jpeg", _png())
    rejected = _metric("media_processed_total", kind="image", result="rejected")
    _drain(core_dsn)
    state = core_api.get(f"/media/{media_id}", headers=user.headers).json()
    assert state["status"] == "failed" and "MEDIA_TYPE_MISMATCH" in state["error"]
    assert _metric("media_processed_total", kind="image", result="rejected") == rejected + 1


def test_upload_limits(core_api: Any, bucket: str) -> None:
    user = make_user(core_api, "buyer")
    r = core_api.post("/media/uploads", headers=user.headers, json={
        "kind": "image", "content_type": "image/png", "size_bytes": 10 * 1024 * 1024 + 1})
    assert r.status_code == 413 and code(r) == "MEDIA_TOO_LARGE"
    r = core_api.post("/media/uploads", headers=user.headers, json={
        "kind": "video", "content_type": "video/mp4", "size_bytes": 200 * 1024 * 1024 + 1})
    assert r.status_code == 413 and code(r) == "MEDIA_TOO_LARGE"
    r = core_api.post("/media/uploads", headers=user.headers, json={
        "kind": "image", "content_type": "image/gif", "size_bytes": 100})
    assert r.status_code == 422 and code(r) == "UNSUPPORTED_FILE_TYPE"
    r = core_api.post("/media/uploads", headers=user.headers, json={
        "kind": "image", "content_type": "image/png", "size_bytes": 100})
    media_id = r.json()["media_id"]
    r = core_api.post(f"/media/{media_id}/complete", headers=user.headers)
    assert r.status_code == 409  # nothing was PUT
    other = make_user(core_api, "buyer")
    assert core_api.get(f"/media/{media_id}", headers=other.headers).status_code == 404


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_video_duration_is_read_and_checked(core_api: Any, core_dsn: str, bucket: str,
                                            tmp_path: Path) -> None:
    user = make_user(core_api, "buyer")

    def video(seconds: int) -> bytes:
        path = tmp_path / f"v{seconds}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        f"testsrc=size=320x240:rate=5:duration={seconds}", "-pix_fmt",
                        "yuv420p", str(path)], check=True, timeout=120)
        return path.read_bytes()

    short = _upload(core_api, user, "video", "video/mp4", video(2))
    long = _upload(core_api, user, "video", "video/mp4", video(61))
    _drain(core_dsn)
    ok = core_api.get(f"/media/{short}", headers=user.headers).json()
    assert ok["status"] == "ready" and (ok["width"], ok["height"]) == (320, 240)
    assert float(ok["duration_s"]) == pytest.approx(2.0, abs=0.3)
    assert ok["thumb_key"]
    bad = core_api.get(f"/media/{long}", headers=user.headers).json()
    assert bad["status"] == "failed" and "60" in bad["error"]
