"""Exports of any declared report (seed 000 §22.4 `/analytics/export`, issue 10 §3).

- `GET /analytics/export?report=&shop_id=&from=&to=&format=csv|xlsx`: the file, streamed
  (up to `EXPORT_STREAM_MAX_ROWS` rows; more: 422 EXPORT_JOB_REQUIRED);
- `POST /analytics/export` (the same fields as JSON): 202 and a job that writes the file to
  MinIO; `GET /analytics/export/{id}`: its status, rows written / total, and when done a
  download link valid for `EXPORT_LINK_TTL_SECONDS`;
- `GET /analytics/export/download/{token}`: the file (the link is the credential, so a
  browser can follow it; 403 EXPORT_LINK_INVALID / EXPORT_LINK_EXPIRED).

The checks, in order: malformed input (422 INVALID_REQUEST: a format other than csv/xlsx,
a dialect other than excel/rfc4180, a bad date or id), the caller (401/403), the shop (404
SHOP_NOT_FOUND, the same answer for another seller's shop as for none), the report (422
UNKNOWN_REPORT), the dates (422 INVALID_DATE_RANGE: inverted, outside 2000–2100, more than
366 days), surface and sort (422), 503 REPORT_NOT_READY before the first build, then the
size (422 EXPORT_TOO_LARGE above `EXPORT_MAX_ROWS`). A job of another caller is 404
EXPORT_NOT_FOUND like a job that does not exist. See `serving_api.exports`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.responses import Response

from platform_common.errors import ErrorCode, ForbiddenError, ValidationError
from platform_common.http import error_responses
from serving_api.auth import ReportReader
from serving_api.deps import Warehouse
from serving_api.exports import respond
from serving_api.exports.jobs import (
    DONE,
    ExportJobs,
    ExportRequest,
    export_not_found,
    link_token,
    read_link,
    unavailable,
)
from serving_api.exports.schemas import ExportCreate, ExportJob
from serving_api.exports.writers import CsvDialect, ExportFormat
from serving_api.reports.catalog import REPORTS
from serving_api.reports.model import Report, ReportNotReady
from serving_api.routers.reports import parse_sort, validate_query

router = APIRouter(tags=["exports"])

FILE_CONTENT: dict[str, Any] = {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet": {}}


def jobs_of(request: Request) -> ExportJobs:
    jobs: ExportJobs = request.app.state.exports
    return jobs


def find_report(name: str) -> Report:
    report = REPORTS.get(name)
    if report is None:
        raise ValidationError(ErrorCode.UNKNOWN_REPORT,
                              f"report must be one of {', '.join(sorted(REPORTS))}")
    return report


@router.get(
    "/analytics/export",
    summary="A report as a CSV or XLSX file, streamed",
    responses={200: {"content": FILE_CONTENT, "description": "The file"},
               **error_responses(401, 403, 404, 422, 503)},
)
async def export_file(
    reader: ReportReader,
    db: Warehouse,
    report: Annotated[str, Query(max_length=64, description="A declared report")],
    shop_id: UUID,
    date_from: Annotated[dt.date, Query(alias="from", description="First day (Asia/Bishkek)")],
    date_to: Annotated[dt.date, Query(alias="to", description="Last day, inclusive")],
    format: Annotated[ExportFormat, Query(description="xlsx or csv")] = ExportFormat.xlsx,
    dialect: Annotated[CsvDialect, Query(description=(
        "CSV: excel (';', decimal comma, BOM, ru titles) or rfc4180"))] = CsvDialect.excel,
    surface: Annotated[str | None, Query(max_length=32)] = None,
    sort: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    reader.require_shop(shop_id)
    found = find_report(report)
    query = validate_query(found, shop_id, date_from, date_to, surface)
    order = parse_sort(found, sort)
    return await respond.export_response(db, found, query, order, format, dialect)


@router.post(
    "/analytics/export",
    status_code=202,
    response_model=ExportJob,
    response_model_by_alias=True,
    summary="Start an export job (large ranges): the file goes to object storage",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def create_export(body: ExportCreate, request: Request, reader: ReportReader,
                        db: Warehouse) -> Any:
    reader.require_shop(body.shop_id)
    report = find_report(body.report)
    query = validate_query(report, body.shop_id, body.date_from, body.date_to, body.surface)
    order = parse_sort(report, body.sort)
    try:
        rows = await run_in_threadpool(respond.count_for_export, db, report, query,
                                       streamed=False)
    except ReportNotReady as exc:
        raise respond.not_ready(report) from exc
    job = ExportRequest(report=report.name, shop_id=str(body.shop_id),
                        date_from=body.date_from.isoformat(),
                        date_to=body.date_to.isoformat(), surface=body.surface,
                        sort=("-" if order.descending else "") + order.column,
                        format=body.format.value, dialect=body.dialect.value)
    manifest = await run_in_threadpool(jobs_of(request).submit, job, reader, rows)
    out = job_view(request, manifest)
    return JSONResponse(out.model_dump(mode="json", by_alias=True), status_code=202,
                        headers={"Location": str(request.url_for("export_status",
                                                                 job_id=manifest["id"]))})


@router.get(
    "/analytics/export/download/{token}",
    name="export_download",
    summary="Download a finished export (the link from its status; no other credential)",
    responses={200: {"content": FILE_CONTENT, "description": "The file"},
               **error_responses(403, 404, 409, 503)},
)
async def download_export(token: str, request: Request) -> Response:
    if len(token) > 2048:
        raise ForbiddenError(ErrorCode.EXPORT_LINK_INVALID, "this download link is not valid")
    job_id = read_link(token)
    jobs = jobs_of(request)
    manifest = await run_in_threadpool(jobs.manifest_for_download, job_id)
    if manifest["status"] != DONE or not manifest.get("object_key"):
        raise export_not_found(job_id)
    try:
        chunks, size = await run_in_threadpool(jobs.store.open, manifest["object_key"])
    except Exception as exc:
        raise unavailable(exc) from exc
    if size != manifest.get("bytes"):  # never hand out a file other than the one recorded
        raise export_not_found(job_id)
    return StreamingResponse(chunks, media_type=manifest["content_type"], headers={
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="{manifest["file_name"]}"'})


@router.get(
    "/analytics/export/{job_id}",
    name="export_status",
    response_model=ExportJob,
    response_model_by_alias=True,
    summary="An export job: status, progress, and a download link when done",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def export_status(job_id: UUID, request: Request, reader: ReportReader) -> Any:
    manifest = await run_in_threadpool(jobs_of(request).get, str(job_id), reader)
    return job_view(request, manifest)


def job_view(request: Request, m: dict[str, Any]) -> ExportJob:
    req = m["request"]
    total, written = int(m.get("rows_total") or 0), int(m.get("rows_written") or 0)
    url = expires = None
    if m["status"] == DONE:
        token, expires = link_token(m["id"])
        url = str(request.url_for("export_download", token=token))
    return ExportJob(
        id=m["id"], status=m["status"], report=req["report"], shop_id=req["shop_id"],
        date_from=req["date_from"], date_to=req["date_to"],  # type: ignore[call-arg]
        format=req["format"], dialect=req["dialect"], surface=req["surface"],
        sort=req["sort"], rows_total=total, rows_written=written,
        progress=1.0 if m["status"] == DONE else (round(written / total, 4) if total else 0.0),
        created_at=m["created_at"], started_at=m.get("started_at"),
        finished_at=m.get("finished_at"), file_name=m["file_name"],
        content_type=m["content_type"], bytes=m.get("bytes"), download_url=url,
        download_expires_at=expires, error=m.get("error"))
