"""Export jobs: a report written to a file in MinIO, with progress and a download link.

Where the state lives: the serving API owns no database (it reads the core's on a
read-only pool), so a job's state is kept in the object store beside its file, in the
`EXPORTS_BUCKET` under `EXPORTS_PREFIX`:

    jobs/<id>/manifest.json   the job: request, owner, status, rows written / total,
                              heartbeat, the process running it, the file, the error
    jobs/<id>/<file>          the file, uploaded (multipart above 8 MiB) only once it is
                              complete; the manifest says `done` only after that
    running/<id>              a marker while the job is queued or running (what a
                              restarted API lists to find the jobs it interrupted)

Lifecycle: `queued` → `running` (rows_written / rows_total rewritten at most every
`EXPORT_PROGRESS_SECONDS`) → `done` (size, a fresh download link on every status read) or
`failed` with an error code: EXPORT_INTERRUPTED (the process running it stopped: API
shutdown, crash, kill), REPORT_NOT_READY, EXPORT_TOO_LARGE (the data grew past the cap
while it ran) or EXPORT_FAILED (anything else; logged). A job is never resumed: a failed
one says so, and the seller starts it again.

Dead jobs: a manifest records the process running it (host, pid, the pid's start time
and a per-process instance id). When the API starts it lists `running/` and fails every
job whose process is gone (same host: the pid is not running, or is another process now;
another host: no heartbeat for `EXPORT_STALE_SECONDS`); a status read applies the same
check, so a job is never left `running` after its process died.

Download links: `/analytics/export/download/<token>`, the token an HS256 JWT (`typ`
export-link, the job id, `exp` = now + `EXPORT_LINK_TTL_SECONDS`) signed with a key derived
from the platform's token secret (HMAC, so an access token is never a link and a link never
an access token). The API checks it and streams the object from MinIO: a tampered link is
403 EXPORT_LINK_INVALID, an expired one 403 EXPORT_LINK_EXPIRED; neither the bucket nor
MinIO's address is exposed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt

from infra.settings import get_settings
from platform_common.errors import (
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
)
from serving_api.auth import INTERNAL, Reader
from serving_api.exports import writers
from serving_api.exports.rows import streamed_rows
from serving_api.exports.writers import CsvDialect, ExportFormat, Tally
from serving_api.reports.catalog import REPORTS
from serving_api.reports.model import ReportNotReady, ReportQuery, Sort

log = logging.getLogger("serving_api.exports")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
LIVE = (QUEUED, RUNNING)
LINK_TYPE = "export-link"
ROLES_SEEING_EVERY_JOB = frozenset({"admin", "analyst", INTERNAL})


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ExportRequest:
    report: str
    shop_id: str
    date_from: str
    date_to: str
    surface: str | None
    sort: str  # "column" or "-column"
    format: str
    dialect: str

    def query(self) -> ReportQuery:
        return ReportQuery(UUID(self.shop_id), dt.date.fromisoformat(self.date_from),
                           dt.date.fromisoformat(self.date_to), self.surface)


class Cancelled(Exception):
    """The API is stopping: the job ends failed (EXPORT_INTERRUPTED)."""


# --- the process running a job ------------------------------------------------------------


def _pid_start(pid: int) -> str | None:
    """The start time (clock ticks since boot) of process `pid`; None if it is not running.
    Together with the pid it names one process (pids are reused)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": _pid_start(pid)}


# --- the object store ---------------------------------------------------------------------


class JobStore:
    """Manifests, running markers and files in the exports bucket."""

    def __init__(self, s3: Any = None) -> None:
        from infra.services.minio import s3_client

        settings = get_settings()
        self.s3 = s3 or s3_client()
        self.bucket = settings.exports_bucket
        prefix = settings.exports_prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self._bucket_ready = False

    def ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        from botocore.exceptions import ClientError

        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError:
            try:
                self.s3.create_bucket(Bucket=self.bucket)
            except ClientError as exc:  # created meanwhile by another process
                if "BucketAlready" not in str(exc):
                    raise
        self._bucket_ready = True

    def job_key(self, job_id: str, name: str) -> str:
        return f"{self.prefix}jobs/{job_id}/{name}"

    def running_key(self, job_id: str) -> str:
        return f"{self.prefix}running/{job_id}"

    def put_manifest(self, manifest: dict[str, Any]) -> None:
        body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        self.s3.put_object(Bucket=self.bucket, Key=self.job_key(manifest["id"], "manifest.json"),
                           Body=body, ContentType="application/json")

    def get_manifest(self, job_id: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            obj = self.s3.get_object(Bucket=self.bucket,
                                     Key=self.job_key(job_id, "manifest.json"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
                return None
            raise
        manifest: dict[str, Any] = json.loads(obj["Body"].read())
        return manifest

    def mark_running(self, job_id: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.running_key(job_id), Body=b"")

    def clear_running(self, job_id: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.running_key(job_id))

    def running_ids(self) -> list[str]:
        out: list[str] = []
        start = self.running_key("")
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=start):
            out += [o["Key"][len(start):] for o in page.get("Contents", [])]
        return out

    def upload(self, job_id: str, path: Path, name: str, content_type: str) -> tuple[str, int]:
        """Upload the finished file (multipart above 8 MiB; boto3 aborts a failed one);
        returns its key and the size MinIO holds."""
        from boto3.s3.transfer import TransferConfig

        key = self.job_key(job_id, name)
        self.s3.upload_file(str(path), self.bucket, key,
                            ExtraArgs={"ContentType": content_type},
                            Config=TransferConfig(multipart_threshold=8 * 1024 * 1024,
                                                  multipart_chunksize=8 * 1024 * 1024,
                                                  max_concurrency=2))
        size = int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        return key, size

    def abort_uploads(self, job_id: str) -> None:
        """Abort multipart uploads a dead process left under the job."""
        prefix = self.job_key(job_id, "")
        listed = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        for upload in listed.get("Uploads", []):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                           UploadId=upload["UploadId"])

    def open(self, key: str) -> tuple[Iterator[bytes], int]:
        obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        body = obj["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(256 * 1024)
            finally:
                body.close()

        return chunks(), int(obj["ContentLength"])


# --- download links -----------------------------------------------------------------------


def _link_key() -> bytes:
    return hmac.new(get_settings().jwt_secret.encode(), b"serving-api export download link",
                    hashlib.sha256).digest()


def link_token(job_id: str, now: dt.datetime | None = None, ttl: int | None = None
               ) -> tuple[str, dt.datetime]:
    issued = now or now_utc()
    expires = issued + dt.timedelta(seconds=ttl or get_settings().export_link_ttl_seconds)
    token = jwt.encode({"typ": LINK_TYPE, "job": job_id, "iat": int(issued.timestamp()),
                        "exp": int(expires.timestamp())}, _link_key(), algorithm="HS256")
    return token, expires


def read_link(token: str) -> str:
    """The job id of a valid link; 403 EXPORT_LINK_EXPIRED / EXPORT_LINK_INVALID."""
    try:
        claims = jwt.decode(token, _link_key(), algorithms=["HS256"],
                            options={"require": ["exp", "job", "typ"]})
    except jwt.ExpiredSignatureError as exc:
        raise ForbiddenError(ErrorCode.EXPORT_LINK_EXPIRED,
                             "this download link has expired; read the export's status "
                             "for a fresh one") from exc
    except jwt.InvalidTokenError as exc:
        raise ForbiddenError(ErrorCode.EXPORT_LINK_INVALID,
                             "this download link is not valid") from exc
    if claims.get("typ") != LINK_TYPE:
        raise ForbiddenError(ErrorCode.EXPORT_LINK_INVALID, "this download link is not valid")
    try:
        return str(UUID(str(claims["job"])))
    except ValueError as exc:
        raise ForbiddenError(ErrorCode.EXPORT_LINK_INVALID,
                             "this download link is not valid") from exc


# --- the jobs of this process -------------------------------------------------------------


def export_not_found(job_id: Any) -> NotFoundError:
    return NotFoundError(ErrorCode.EXPORT_NOT_FOUND, f"export {job_id} does not exist")


def unavailable(exc: Exception) -> ServiceUnavailableError:
    log.warning("export store unavailable: %s", exc)
    return ServiceUnavailableError(ErrorCode.EXPORTS_UNAVAILABLE,
                                   "the export store is not reachable right now; retry shortly")


class ExportJobs:
    """Runs export jobs on a small thread pool of this process and answers for them."""

    def __init__(self, store: JobStore | None = None) -> None:
        self._store = store
        self.instance = uuid.uuid4().hex
        self.process = this_process() | {"instance": self.instance}
        self._pool = ThreadPoolExecutor(max_workers=get_settings().export_job_workers,
                                        thread_name_prefix="export-job")
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def store(self) -> JobStore:
        # boto3's default session is not safe to make clients from in several threads
        with self._lock:
            if self._store is None:
                self._store = JobStore()
            return self._store

    # -- creating and reading ---------------------------------------------------------

    def submit(self, request: ExportRequest, reader: Reader, rows_total: int) -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        report = REPORTS[request.report]
        fmt = ExportFormat(request.format)
        query = request.query()
        stamp = iso(now_utc())
        manifest: dict[str, Any] = {
            "id": job_id, "status": QUEUED, "request": asdict(request),
            "created_by": str(reader.user_id) if reader.user_id else None,
            "created_role": reader.role, "created_at": stamp, "updated_at": stamp,
            "started_at": None, "finished_at": None,
            "rows_total": rows_total, "rows_written": 0,
            "file_name": writers.file_name(report, query.shop_id, query.date_from,
                                           query.date_to, fmt),
            "content_type": writers.MEDIA_TYPES[fmt], "object_key": None, "bytes": None,
            "worker": self.process, "error": None,
        }
        with self._lock:
            self._active.add(job_id)
        try:
            self.store.ensure_bucket()
            self.store.mark_running(job_id)
            self.store.put_manifest(manifest)
        except Exception as exc:
            with self._lock:
                self._active.discard(job_id)
            raise unavailable(exc) from exc
        try:
            self._pool.submit(self._run, manifest)
        except RuntimeError as exc:  # the API is stopping
            self._finish_failed(manifest, ErrorCode.EXPORT_INTERRUPTED,
                                "the API is stopping; start the export again shortly")
            self.store.clear_running(job_id)
            with self._lock:
                self._active.discard(job_id)
            raise unavailable(exc) from exc
        return manifest

    def get(self, job_id: str, reader: Reader) -> dict[str, Any]:
        """The manifest of a job the reader may see (else 404 EXPORT_NOT_FOUND); a live job
        whose process is gone is failed first."""
        try:
            manifest = self.store.get_manifest(job_id)
        except Exception as exc:
            raise unavailable(exc) from exc
        if manifest is None or not visible(manifest, reader):
            raise export_not_found(job_id)
        if manifest["status"] in LIVE and not self.alive(manifest):
            manifest = self._fail_dead(manifest)
        return manifest

    def manifest_for_download(self, job_id: str) -> dict[str, Any]:
        try:
            manifest = self.store.get_manifest(job_id)
        except Exception as exc:
            raise unavailable(exc) from exc
        if manifest is None:
            raise export_not_found(job_id)
        return manifest

    # -- liveness ---------------------------------------------------------------------

    def alive(self, manifest: dict[str, Any]) -> bool:
        worker = manifest.get("worker") or {}
        if worker.get("instance") == self.instance:
            with self._lock:
                return manifest["id"] in self._active
        if worker.get("host") == self.process["host"]:
            pid = worker.get("pid")
            return (isinstance(pid, int) and pid != os.getpid()
                    and _pid_start(pid) is not None and _pid_start(pid) == worker.get("pid_start"))
        try:
            beat = dt.datetime.fromisoformat(manifest["updated_at"])
        except (KeyError, TypeError, ValueError):
            return False
        return (now_utc() - beat).total_seconds() < get_settings().export_stale_seconds

    def _fail_dead(self, manifest: dict[str, Any]) -> dict[str, Any]:
        worker = manifest.get("worker") or {}
        manifest = manifest | {
            "status": FAILED, "finished_at": iso(now_utc()), "updated_at": iso(now_utc()),
            "error": {"code": ErrorCode.EXPORT_INTERRUPTED.value,
                      "message": (f"the API process running this export (pid "
                                  f"{worker.get('pid')} on {worker.get('host')}) stopped "
                                  "before it finished; no file was kept; start it again")}}
        try:
            self.store.abort_uploads(manifest["id"])
        except Exception as exc:  # best effort: MinIO also expires stale uploads
            log.warning("could not abort the uploads of export %s: %s", manifest["id"], exc)
        self.store.put_manifest(manifest)
        self.store.clear_running(manifest["id"])
        log.warning("export %s was interrupted (process %s); marked failed", manifest["id"],
                    worker)
        return manifest

    def recover(self) -> list[str]:
        """Fail every job left queued/running by a process that is gone; their ids."""
        failed: list[str] = []
        self.store.ensure_bucket()
        for job_id in self.store.running_ids():
            manifest = self.store.get_manifest(job_id)
            if manifest is None or manifest["status"] not in LIVE:
                self.store.clear_running(job_id)
            elif not self.alive(manifest):
                self._fail_dead(manifest)
                failed.append(job_id)
        return failed

    def recover_in_background(self) -> threading.Thread:
        def run() -> None:
            try:
                failed = self.recover()
                if failed:
                    log.warning("marked %d interrupted export(s) failed: %s", len(failed),
                                ", ".join(failed))
            except Exception as exc:
                log.warning("could not check for interrupted exports: %s", exc)

        thread = threading.Thread(target=run, name="export-recovery", daemon=True)
        thread.start()
        return thread

    def shutdown(self, wait: float = 10.0) -> None:
        """Stop: running jobs end failed (EXPORT_INTERRUPTED) at their next progress
        step, queued ones without starting."""
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=False)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self._lock:
                if not self._active:
                    return
            time.sleep(0.05)

    # -- running ----------------------------------------------------------------------

    def _run(self, manifest: dict[str, Any]) -> None:
        from warehouse.client import get_client

        job_id = manifest["id"]
        store, settings = self.store, get_settings()
        try:
            if self._stopping.is_set():
                raise Cancelled()
            request = ExportRequest(**manifest["request"])
            report = REPORTS[request.report]
            sort = Sort.parse(report, request.sort)
            if sort is None:
                raise ValueError(f"bad sort {request.sort!r}")
            query = request.query()
            started = iso(now_utc())
            manifest.update(status=RUNNING, started_at=started, updated_at=started)
            store.put_manifest(manifest)
            last = [time.monotonic()]

            def progress(rows: int) -> None:
                if self._stopping.is_set():
                    raise Cancelled()
                if rows > settings.export_max_rows:
                    raise TooLarge()
                now = time.monotonic()
                if now - last[0] >= settings.export_progress_seconds:
                    last[0] = now
                    manifest.update(rows_written=rows, updated_at=iso(now_utc()))
                    store.put_manifest(manifest)

            tally = Tally(report, progress, every=1000)
            rows = tally.over(streamed_rows(get_client(), report, query, sort))
            with tempfile.TemporaryDirectory(prefix=f"export-{job_id}-") as tmp:
                path = Path(tmp) / manifest["file_name"]
                if request.format == ExportFormat.csv:
                    writers.write_csv(path, report, rows, CsvDialect(request.dialect))
                else:
                    writers.write_xlsx(path, report, rows, tally, {
                        "subject": f"shop {request.shop_id}, "
                                   f"{request.date_from} – {request.date_to}"})
                if self._stopping.is_set():
                    raise Cancelled()
                manifest.update(rows_written=tally.rows, updated_at=iso(now_utc()),
                                phase="storing")
                store.put_manifest(manifest)
                key, size = store.upload(job_id, path, manifest["file_name"],
                                         manifest["content_type"])
            finished = iso(now_utc())
            manifest.update(status=DONE, rows_written=tally.rows, rows_total=tally.rows,
                            object_key=key, bytes=size, finished_at=finished,
                            updated_at=finished, phase=None)
            store.put_manifest(manifest)  # `done` only once the whole file is stored
        except Cancelled:
            self._finish_failed(manifest, ErrorCode.EXPORT_INTERRUPTED,
                                "the API stopped before this export finished; start it again")
        except TooLarge:
            self._finish_failed(manifest, ErrorCode.EXPORT_TOO_LARGE,
                                f"the report grew past {settings.export_max_rows} rows "
                                "while it was exported; export a shorter range")
        except ReportNotReady:
            self._finish_failed(manifest, ErrorCode.REPORT_NOT_READY,
                                "the report is being built; start the export again shortly")
        except Exception:
            log.exception("export %s failed", job_id)
            self._finish_failed(manifest, ErrorCode.EXPORT_FAILED,
                                "the export failed; it has been logged; start it again")
        finally:
            try:
                store.clear_running(job_id)
            except Exception as exc:
                log.warning("could not clear the running marker of export %s: %s", job_id,
                            exc)
            with self._lock:
                self._active.discard(job_id)

    def _finish_failed(self, manifest: dict[str, Any], code: ErrorCode, message: str) -> None:
        stamp = iso(now_utc())
        manifest.update(status=FAILED, finished_at=stamp, updated_at=stamp, phase=None,
                        object_key=None, bytes=None,
                        error={"code": code.value, "message": message})
        try:
            self.store.put_manifest(manifest)
        except Exception:
            log.exception("could not record the failure of export %s", manifest["id"])


class TooLarge(Exception):
    pass


def visible(manifest: dict[str, Any], reader: Reader) -> bool:
    """A job is seen by whoever may read its shop and either started it or reads every
    shop's reports (admins, analysts, the platform's processes); anyone else gets the same
    404 as for an id that does not exist."""
    try:
        shop = UUID(manifest["request"]["shop_id"])
    except (KeyError, TypeError, ValueError):
        return False
    if not reader.may_read(shop):
        return False
    if reader.role in ROLES_SEEING_EVERY_JOB:
        return True
    return reader.user_id is not None and manifest.get("created_by") == str(reader.user_id)
