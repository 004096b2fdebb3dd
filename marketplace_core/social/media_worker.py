"""Media processing worker: `python -m marketplace_core.social.media_worker [--once]`.

Claims `post_media` rows in status `processing` (skip locked), downloads the object,
checks the real type against the declared one, reads dimensions (Pillow) or duration and
size (ffprobe), writes a JPEG thumbnail (Pillow; a video's first frame via ffmpeg) and
marks the row `ready` — or `failed` with the reason. See marketplace_core.social.media.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import shutil
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Histogram

from infra.settings import get_settings
from marketplace_core.db import Connection, connect
from marketplace_core.social.media import ensure_bucket, s3
from platform_common import log_redaction
from platform_common.metrics import serve_metrics

log = logging.getLogger("marketplace_core.social.media_worker")

MEDIA_PROCESSED = Counter("media_processed", "Uploads processed, by kind (image, video) and "
                          "result (ready, rejected, failed).", ["kind", "result"])
MEDIA_SECONDS = Histogram("media_processing_seconds", "Time to process one upload.", ["kind"],
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
THUMB_PX = 320
MAX_VIDEO_S = 60


def sniff(head: bytes) -> str | None:
    """The content type the bytes really are (of the ones we accept), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    return None


class Rejected(Exception):
    pass


def _thumb_of_image(data: bytes) -> tuple[int, int, bytes]:
    from PIL import Image
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        img.thumbnail((THUMB_PX, THUMB_PX))
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=80)
    return width, height, out.getvalue()


def _probe_video(path: Path) -> tuple[int | None, int | None, Decimal, bytes | None]:
    if shutil.which("ffprobe") is None:
        raise Rejected("ffprobe is not installed: cannot read the video")
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)], capture_output=True, timeout=60, check=False)
    if out.returncode != 0:
        raise Rejected("not a readable video")
    info = json.loads(out.stdout)
    video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None:
        raise Rejected("no video stream")
    duration = Decimal(str(info.get("format", {}).get("duration") or video.get("duration")
                           or "0")).quantize(Decimal("0.01"))
    if not 0 < duration <= MAX_VIDEO_S:
        raise Rejected(f"a video lasts at most {MAX_VIDEO_S} s (this one {duration} s)")
    thumb = None
    if shutil.which("ffmpeg"):
        frame = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-vf",
             f"scale={THUMB_PX}:-2", "-f", "image2", "-c:v", "mjpeg", "-"],
            capture_output=True, timeout=60, check=False)
        thumb = frame.stdout if frame.returncode == 0 and frame.stdout else None
    return video.get("width"), video.get("height"), duration, thumb


def process(conn: Connection, client: Any | None = None) -> bool:
    """Process one queued upload; False if none is waiting."""
    client = client or s3()
    bucket = ensure_bucket()
    with conn.transaction():
        row = conn.execute(
            "select id, kind, object_key, content_type from post_media where status ="
            " 'processing' order by created_at limit 1 for update skip locked").fetchone()
        if row is None:
            return False
        media_id, kind, key, declared = row
        started, result = time.monotonic(), "ready"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "object"
                client.download_file(bucket, key, str(path))
                head = path.open("rb").read(32)
                real = sniff(head)
                if real is None or real.split("/")[0] != declared.split("/")[0] or (
                        kind == "image" and real != declared):
                    raise Rejected(f"MEDIA_TYPE_MISMATCH: declared {declared}, bytes are "
                                   f"{real or 'unknown'}")
                width: int | None
                height: int | None
                duration: Decimal | None = None
                if kind == "image":
                    width, height, thumb = _thumb_of_image(path.read_bytes())
                else:
                    width, height, duration, thumb_or_none = _probe_video(path)
                    thumb = thumb_or_none or b""
                thumb_key = None
                if thumb:
                    thumb_key = f"thumbs/{media_id}.jpg"
                    client.put_object(Bucket=bucket, Key=thumb_key, Body=thumb,
                                      ContentType="image/jpeg")
            conn.execute(
                "update post_media set status = 'ready', width = %s, height = %s,"
                " duration_s = %s, thumb_key = %s, error = null where id = %s",
                (width, height, duration, thumb_key, media_id))
        except Rejected as exc:
            result = "rejected"
            conn.execute("update post_media set status = 'failed', error = %s where id = %s",
                         (str(exc)[:500], media_id))
        except Exception as exc:  # unreadable image, storage error...
            log.warning("media %s failed: %s", media_id, exc)
            result = "failed"
            conn.execute("update post_media set status = 'failed', error = %s where id = %s",
                         (f"unreadable: {type(exc).__name__}"[:500], media_id))
    # After the commit: a rolled-back attempt is processed (and counted) again.
    MEDIA_PROCESSED.labels(kind, result).inc()
    MEDIA_SECONDS.labels(kind).observe(time.monotonic() - started)
    return True


def run(dsn: str | None = None, *, once: bool = False, idle_s: float = 1.0) -> int:
    done = 0
    client = s3()
    with connect(dsn, autocommit=True) as conn:
        while True:
            if process(conn, client):
                done += 1
                continue
            if once:
                return done
            time.sleep(idle_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--once", action="store_true", help="drain the queue, then exit")
    args = ap.parse_args()
    log_redaction.install()
    logging.basicConfig(level=logging.INFO)
    if not args.once:
        serve_metrics(get_settings().media_worker_metrics_port)
    print(run(once=args.once))


if __name__ == "__main__":
    main()
