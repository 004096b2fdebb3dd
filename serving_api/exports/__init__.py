"""Exports of any declared report as CSV or XLSX (issue 10 §3, seed 000 §22.4).

- `writers`: the one CSV writer (two dialects) and the one XLSX writer (xlsxwriter in
  constant-memory mode), both fed a stream of rows and tallying rows and totals;
- `rows`: the rows of a report in order — LIMIT/OFFSET pages for a streamed response,
  one streaming warehouse query for a job;
- `jobs`: export jobs (a file written to MinIO, progress, a time-limited download link,
  state kept in MinIO beside the file so a restart finds and fails what it interrupted);
- the HTTP edge is `serving_api.routers.exports` (and `format=` of the report endpoints).
"""
