"""`python -m pipelines.quality [table ...]`: run the suites and print what failed.

Exit status 1 when an ERROR expectation failed somewhere.
"""

from __future__ import annotations

import sys

from pipelines.lake_catalog import LAKE_TABLES
from pipelines.quality.rules import Layer, Severity
from pipelines.quality.runner import run_suite


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    tables = [t for t in LAKE_TABLES if not names or t.name in names]
    worst = 0
    for table in tables:
        for layer in Layer:
            result = run_suite(table, layer)
            status = "ok  " if result.passed else f"{result.severity:5}"
            print(f"{status} {result.suite:32} {result.message}", flush=True)
            for f in result.failures:
                print(f"       {f.line()}")
            for s in result.skipped:
                print(f"       {s}")
            if not result.passed and result.severity is Severity.ERROR:
                worst = 1
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
