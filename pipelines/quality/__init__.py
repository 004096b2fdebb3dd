"""Data quality of the lake, with Great Expectations: suites generated from the lake catalog
and the Avro schemas (`suites.py`, policy in `rules.py`), run over a bounded window of each
Delta table read through ClickHouse (`runner.py`).

    from pipelines.quality import run_suite
    result = run_suite("core_orders", "silver")   # SuiteResult: passed, severity, failures

    python -m pipelines.quality [table ...]        # every suite (or those tables'), printed

Importing this package does not import Great Expectations (slow to import); running does.
"""

from pipelines.quality.rules import Layer, Severity
from pipelines.quality.runner import Failure, SuiteResult, run_suite
from pipelines.quality.suites import SuiteSpec, all_suites, build_suite

__all__ = ["Failure", "Layer", "Severity", "SuiteResult", "SuiteSpec", "all_suites",
           "build_suite", "run_suite"]
