"""Request and response shapes of /analytics/export."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from platform_common.validated import Text
from serving_api.exports.writers import CsvDialect, ExportFormat


class ExportCreate(BaseModel):
    """What to export: any declared report, one shop, a range of local days."""

    report: Text = Field(max_length=64, examples=["sales"])
    shop_id: UUID
    date_from: dt.date = Field(alias="from", description="First day (Asia/Bishkek)")
    date_to: dt.date = Field(alias="to", description="Last day, inclusive")
    format: ExportFormat = Field(default=ExportFormat.xlsx, description="xlsx or csv")
    dialect: CsvDialect = Field(default=CsvDialect.excel, description=(
        "CSV only: excel (';', decimal comma, UTF-8 BOM, Russian titles) or rfc4180 "
        "(',', decimal point, column names)"))
    surface: Text | None = Field(default=None, max_length=32)
    sort: Text | None = Field(default=None, max_length=64,
                             description="A column; '-column' for descending")

    model_config = {"populate_by_name": True, "extra": "forbid"}


class ExportError(BaseModel):
    code: str
    message: str


class ExportJob(BaseModel):
    """An export job. `download_url` (when done) works without a token until
    `download_expires_at`; read the job again for a fresh one."""

    id: UUID
    status: Literal["queued", "running", "done", "failed"]
    report: str
    shop_id: UUID
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    format: str
    dialect: str
    surface: str | None
    sort: str
    rows_total: int = Field(description="Rows of the report when the job was created "
                                        "(the rows written, once done)")
    rows_written: int
    progress: float = Field(description="rows_written / rows_total, 0 to 1")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    file_name: str
    content_type: str
    bytes: int | None = Field(description="The file's size, once done")
    download_url: str | None = None
    download_expires_at: dt.datetime | None = None
    error: ExportError | None = None

    model_config = {"populate_by_name": True}
