"""The one CSV writer and the one XLSX writer of every report export.

Both take the report's declaration and its rows (as `model.convert` gives them: Decimal
money and per cent, int counts, dates) and write the *visible* columns in the JSON's
order; a `Tally` counts the rows (progress) and sums the numeric columns on the way, and
the totals row of the XLSX is `model.totals` of those sums — the JSON's own rule.

CSV, two dialects (`CsvDialect`):
- `excel` (default): what a Russian-speaking seller double-clicks into Excel. Russian
  Excel (and LibreOffice in ru_RU) splits a CSV on the locale's list separator `;` and
  reads `1499,00` (decimal comma) and `01.05.2024` as a number and a date; the file is
  UTF-8 with a BOM (without it Excel reads Cyrillic as cp1251), CRLF line ends, RFC 4180
  quoting, the Russian column titles as the header. Text cells starting with = + - @ or a
  tab/CR get a leading apostrophe so Excel does not run them as formulas (CSV injection).
  Money has no thousands separator (it would be text to Excel); a reader gets the JSON's
  exact decimal back with `value.replace(",", ".")`.
- `rfc4180`: for programs: `,`, CRLF, UTF-8 without BOM, the column *names* as the
  header, values exactly as the JSON sends them (`1499.00`, ISO dates).

`decimal` columns (plain 2-place numbers) are written like money, without the currency.

XLSX (`write_xlsx`): xlsxwriter with `constant_memory` (each row is flushed to a temp file
as soon as the next begins; memory stays flat whatever the row count). One header row of
Russian titles (bold, frozen, with an autofilter), the rows, then a bold "Итого" row with
the totals. Money and per cent are numbers (`#,##0.00`, which Russian Excel shows as
`1 499,00`), counts numbers (`#,##0`), dates real dates (`dd.mm.yyyy`), datetimes local
(Asia/Bishkek) date-times; text is always written as a string, never as a formula.
A sheet holds `EXPORT_XLSX_ROWS_PER_SHEET` rows (default 1,000,000; Excel's limit is
1,048,576 with the header): more continue on "<title> (2)", "(3)", ... each with the header;
the totals row closes the last sheet.

A money cell is `float(Decimal)`: the nearest double. Every amount with at most 15
significant digits — every 2-decimal amount below 10^13 KGS — is recovered exactly from it
(`Decimal(repr(cell))`), so the workbook agrees with the JSON to the tyiyn.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter

from infra.settings import get_settings
from platform_common.money import format_money
from serving_api.reports import model
from serving_api.reports.model import DECIMAL_KINDS, NUMERIC_KINDS, Column, Report


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class CsvDialect(StrEnum):
    excel = "excel"
    rfc4180 = "rfc4180"


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
FLUSH_BYTES = 64 * 1024
TOTAL_LABEL = "Итого"


def file_name(report: Report, shop_id: Any, date_from: dt.date, date_to: dt.date,
              fmt: ExportFormat) -> str:
    return f"{report.name}-{shop_id}-{date_from}-{date_to}.{fmt.value}"


class Tally:
    """Wraps the row stream: counts rows, sums every numeric column (exactly: Decimal and
    int) and calls `progress(rows)` every `every` rows."""

    def __init__(self, report: Report, progress: Callable[[int], None] | None = None,
                 every: int = 10_000) -> None:
        self.report = report
        self.rows = 0
        self._numeric = [c.name for c in report.columns if c.kind in NUMERIC_KINDS]
        self.sums: dict[str, Any] = {name: 0 for name in self._numeric}
        self._progress, self._every = progress, every

    def over(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        sums, numeric = self.sums, self._numeric
        for row in rows:
            for name in numeric:
                value = row[name]
                if value is not None:
                    sums[name] += value
            self.rows += 1
            if self._progress is not None and self.rows % self._every == 0:
                self._progress(self.rows)
            yield row
        if self._progress is not None:
            self._progress(self.rows)

    def totals(self) -> dict[str, Any]:
        return model.totals(self.report, dict(self.sums))


def _local(value: dt.datetime) -> dt.datetime:
    """A warehouse date-time (naive = UTC) as a naive Asia/Bishkek wall-clock time."""
    zone = ZoneInfo(get_settings().timezone)
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).replace(tzinfo=None)


# --- CSV ----------------------------------------------------------------------------------


def _csv_cell(column: Column, dialect: CsvDialect) -> Callable[[Any], str]:
    excel = dialect is CsvDialect.excel
    if column.kind in DECIMAL_KINDS:
        if excel:
            return lambda v: format_money(v).replace(".", ",")
        return format_money
    if column.kind == "count":
        return str
    if column.kind == "date":
        return (lambda v: v.strftime("%d.%m.%Y")) if excel else (lambda v: v.isoformat())
    if column.kind == "datetime":
        if excel:
            return lambda v: _local(v).strftime("%d.%m.%Y %H:%M:%S")
        zone = ZoneInfo(get_settings().timezone)
        return lambda v: (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).astimezone(
            zone).isoformat()
    if excel:
        return _defuse
    return str


def _defuse(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_chunks(report: Report, rows: Iterable[dict[str, Any]],
               dialect: CsvDialect = CsvDialect.excel) -> Iterator[bytes]:
    """The CSV file as byte chunks of about 64 KiB (constant memory)."""
    columns = report.visible
    excel = dialect is CsvDialect.excel
    cells = [(c.name, _csv_cell(c, dialect)) for c in columns]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";" if excel else ",", lineterminator="\r\n")
    if excel:
        buf.write(BOM)
    writer.writerow([c.title_ru if excel else c.name for c in columns])
    for row in rows:
        writer.writerow(["" if (v := row[name]) is None else cell(v) for name, cell in cells])
        if buf.tell() > FLUSH_BYTES:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def write_csv(path: Path, report: Report, rows: Iterable[dict[str, Any]],
              dialect: CsvDialect = CsvDialect.excel) -> int:
    """Write the CSV to `path`; returns its size in bytes."""
    size = 0
    with path.open("wb") as f:
        for chunk in csv_chunks(report, rows, dialect):
            f.write(chunk)
            size += len(chunk)
    return size


# --- XLSX ---------------------------------------------------------------------------------


_NUM_FORMATS = {"money": "#,##0.00", "percent": "0.00", "decimal": "#,##0.00",
                "count": "#,##0", "date": "dd.mm.yyyy", "datetime": "dd.mm.yyyy hh:mm:ss"}
_WIDTHS = {"money": 16, "percent": 10, "decimal": 14, "count": 12, "date": 12,
           "datetime": 20, "id": 38, "text": 32}


def sheet_title(report: Report, number: int) -> str:
    base = _SHEET_FORBIDDEN.sub(" ", report.title_ru).strip("'") or report.name
    if number == 1:
        return base[:31]
    suffix = f" ({number})"
    return base[:31 - len(suffix)] + suffix


def write_xlsx(path: Path, report: Report, rows: Iterable[dict[str, Any]], tally: Tally,
               properties: dict[str, str] | None = None) -> None:
    """Write the workbook to `path` (rows must come through `tally.over`, so the totals
    row can be written at the end)."""
    settings = get_settings()
    per_sheet = settings.export_xlsx_rows_per_sheet
    columns = report.visible
    workbook = xlsxwriter.Workbook(str(path), {
        "constant_memory": True, "tmpdir": str(path.parent),
        "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
    })
    try:
        workbook.set_properties({"title": report.title_ru, "comments": report.description,
                                 **(properties or {})})
        header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top",
                                      "bottom": 1})
        formats = {kind: workbook.add_format({"num_format": f}) for kind, f in
                   _NUM_FORMATS.items()}
        bold = {kind: workbook.add_format({"num_format": f, "bold": True, "top": 1})
                for kind, f in _NUM_FORMATS.items()}
        bold_text = workbook.add_format({"bold": True, "top": 1})

        writers = [_xlsx_cell(c, formats.get(c.kind)) for c in columns]
        names = [c.name for c in columns]
        width = len(columns)

        def new_sheet(number: int) -> Any:
            sheet = workbook.add_worksheet(sheet_title(report, number))
            for i, c in enumerate(columns):
                sheet.set_column(i, i, _WIDTHS.get(c.kind, 14))
            sheet.set_row(0, 30)
            for i, c in enumerate(columns):
                sheet.write_string(0, i, c.title_ru, header)
            sheet.freeze_panes(1, 0)
            return sheet

        number, sheet, r = 1, new_sheet(1), 0
        for row in rows:
            if r == per_sheet:
                sheet.autofilter(0, 0, r, width - 1)
                number, r = number + 1, 0
                sheet = new_sheet(number)
            r += 1
            for i, name in enumerate(names):
                value = row[name]
                if value is not None:
                    writers[i](sheet, r, i, value)
        sheet.autofilter(0, 0, max(r, 1), width - 1)
        totals = tally.totals()
        r += 1
        labelled = False
        for i, c in enumerate(columns):
            value = totals.get(c.name)
            if value is not None:
                _xlsx_cell(c, bold.get(c.kind))(sheet, r, i, value)
            elif not labelled and c.total == "none":
                sheet.write_string(r, i, TOTAL_LABEL, bold_text)
                labelled = True
    finally:
        workbook.close()


def _xlsx_cell(column: Column, fmt: Any) -> Callable[[Any, int, int, Any], None]:
    kind = column.kind
    if kind in DECIMAL_KINDS:
        return lambda s, r, c, v: s.write_number(r, c, float(v), fmt)
    if kind == "count":
        return lambda s, r, c, v: s.write_number(r, c, v, fmt)
    if kind == "date":
        return lambda s, r, c, v: s.write_datetime(r, c, v, fmt)
    if kind == "datetime":
        return lambda s, r, c, v: s.write_datetime(r, c, _local(v), fmt)
    return lambda s, r, c, v: s.write_string(r, c, str(v))
