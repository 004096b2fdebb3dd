"""A report as a streamed CSV or XLSX response: `GET /analytics/export` and `format=csv|xlsx`
of the report endpoints answer through here (so both give the same bytes).

Limits, checked before the first byte (after the shop and the query checks): more than
`EXPORT_MAX_ROWS` rows is 422 EXPORT_TOO_LARGE (for a job too); more than
`EXPORT_STREAM_MAX_ROWS` is 422 EXPORT_JOB_REQUIRED (POST /analytics/export writes it to
MinIO instead of holding a request open). CSV is streamed as it is written (64 KiB chunks,
one LIMIT/OFFSET page of rows at a time); XLSX is a zip whose directory comes last, so it
is written to a temporary file first (xlsxwriter, constant memory) and then streamed from
disk and deleted: memory stays flat either way.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.responses import Response

from infra.settings import get_settings
from platform_common.errors import ErrorCode, ServiceUnavailableError, ValidationError
from serving_api.exports import writers
from serving_api.exports.rows import paged_rows, streamed_rows
from serving_api.exports.writers import CsvDialect, ExportFormat, Tally
from serving_api.reports import model
from serving_api.reports.model import Report, ReportNotReady, ReportQuery, Sort


def not_ready(report: Report) -> ServiceUnavailableError:
    return ServiceUnavailableError(ErrorCode.REPORT_NOT_READY,
                                   f"the {report.name} report is being built; retry shortly")


def count_for_export(db: Any, report: Report, query: ReportQuery, *, streamed: bool) -> int:
    """The rows the export will hold (422 EXPORT_TOO_LARGE / EXPORT_JOB_REQUIRED beyond
    the caps); ReportNotReady before the report's marts exist."""
    settings = get_settings()
    model.require_built(db, report)
    rows = model.count_rows(db, report, query)
    if rows > settings.export_max_rows:
        raise ValidationError(
            ErrorCode.EXPORT_TOO_LARGE,
            f"this export would hold {rows} rows; at most {settings.export_max_rows} per "
            "export: choose a shorter date range")
    if streamed and rows > settings.export_stream_max_rows:
        raise ValidationError(
            ErrorCode.EXPORT_JOB_REQUIRED,
            f"this export holds {rows} rows; more than {settings.export_stream_max_rows} are "
            "exported as a job: POST /analytics/export with the same parameters")
    return rows


async def export_response(db: Any, report: Report, query: ReportQuery, sort: Sort,
                          fmt: ExportFormat, dialect: CsvDialect) -> Response:
    try:
        await run_in_threadpool(count_for_export, db, report, query, streamed=True)
        name = writers.file_name(report, query.shop_id, query.date_from, query.date_to, fmt)
        if fmt is ExportFormat.csv:
            chunks = writers.csv_chunks(report, paged_rows(db, report, query, sort), dialect)
            return StreamingResponse(
                chunks, media_type=writers.MEDIA_TYPES[fmt],
                headers={"Content-Disposition": f'attachment; filename="{name}"'})
        path = await run_in_threadpool(_xlsx_file, report, query, sort, name)
    except ReportNotReady as exc:
        raise not_ready(report) from exc
    return FileResponse(path, media_type=writers.MEDIA_TYPES[fmt], filename=name,
                        background=BackgroundTask(shutil.rmtree, path.parent,
                                                  ignore_errors=True))


def _xlsx_file(report: Report, query: ReportQuery, sort: Sort, name: str) -> Path:
    """The workbook in a temporary directory (the caller deletes it)."""
    from warehouse.client import get_client

    directory = Path(tempfile.mkdtemp(prefix="export-"))
    try:
        path = directory / name
        tally = Tally(report)
        rows = tally.over(streamed_rows(get_client(), report, query, sort))
        writers.write_xlsx(path, report, rows, tally, {
            "subject": f"shop {query.shop_id}, {query.date_from} – {query.date_to}"})
        return path
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
