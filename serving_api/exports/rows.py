"""The rows of a report for an export, in the report's sort order, as `model.convert` gives
them (Decimal money, int counts, dates) — the same values the JSON endpoint serialises.

- `paged_rows`: `model.iter_rows` (LIMIT/OFFSET pages of `EXPORT_CHUNK_ROWS`); each page is
  a query of its own, so the iterator may be resumed from any thread (a streamed HTTP
  response runs each step on a thread-pool thread);
- `streamed_rows`: one query streamed block by block (clickhouse-connect's row block
  stream, chdb or HTTP): linear in the rows and one consistent read, for export jobs. The
  stream belongs to the thread that opened it: consume it there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.settings import get_settings
from serving_api.reports import model
from serving_api.reports.model import Report, ReportNotReady, ReportQuery, Sort


def select_sql(report: Report, sort: Sort) -> str:
    names = ", ".join(f"`{c.name}`" for c in report.columns)
    return f"SELECT {names} FROM ({model.render(report)}) ORDER BY {sort.order_by(report)}"


def paged_rows(client: Any, report: Report, query: ReportQuery, sort: Sort
               ) -> Iterator[dict[str, Any]]:
    return model.iter_rows(client, report, query, sort, chunk=get_settings().export_chunk_rows)


def streamed_rows(client: Any, report: Report, query: ReportQuery, sort: Sort
                  ) -> Iterator[dict[str, Any]]:
    names = [c.name for c in report.columns]
    try:
        stream = client.query_row_block_stream(select_sql(report, sort),
                                               parameters=query.parameters())
    except Exception as exc:
        if any(m in str(exc) for m in model._MISSING_TABLE):
            raise ReportNotReady(str(exc)) from exc
        raise
    with stream:
        for block in stream:
            for row in block:
                yield model.convert(report, dict(zip(names, row, strict=True)))
