"""Data-quality checks of the lake: one Dagster asset check per generated suite
(pipelines.quality), on `bronze/<table>` and `silver/<table>` for every catalog table.

Every check is blocking: when an ERROR expectation fails, the check's result has ERROR
severity and the assets that read the checked table in the same run do not execute (the
run fails with "blocking asset check failed"). WARN-only failures report without blocking;
a table not landed yet is a failed WARN check saying so.

The checks share one op (a multi-asset check): Great Expectations takes seconds to import
and the machine has two cores, so one step imports it once and runs the selected suites
one after the other; a run that materializes only some tables runs only their checks.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from pipelines.lake_catalog import LAKE_TABLES, LakeTable
from pipelines.quality.rules import MAX_ROWS, WINDOW_DAYS, Layer, Severity
from pipelines.quality.suites import build_suite

CHECK_NAME = "quality"


def checked_key(table: LakeTable, layer: Layer) -> dg.AssetKey:
    return dg.AssetKey([str(layer), table.name])


def _spec(table: LakeTable, layer: Layer) -> dg.AssetCheckSpec:
    suite = build_suite(table, layer)
    errors = sum(c.severity is Severity.ERROR for c in suite.checks)
    refs = ", ".join(f"{r.column} -> {r.target}_current" for r in suite.references)
    return dg.AssetCheckSpec(
        name=CHECK_NAME,
        asset=checked_key(table, layer),
        blocking=True,
        description=(f"Great Expectations suite `{suite.name}`, generated from the lake "
                     f"catalog and `{table.topic.schema_file}`: {len(suite.checks)} "
                     f"expectations ({errors} ERROR, blocking)"
                     + (f"; references {refs}" if refs else "") + "."),
        metadata={"suite": suite.name,
                  "expectations": [f"[{c.severity}] {c.id}" for c in suite.checks],
                  "read": f"the latest {WINDOW_DAYS} days of the partition column "
                          f"({suite.partition_column}), at most {MAX_ROWS} rows"},
    )


SUITES: dict[dg.AssetCheckKey, tuple[LakeTable, Layer]] = {
    dg.AssetCheckKey(checked_key(t, layer), CHECK_NAME): (t, layer)
    for t in LAKE_TABLES for layer in Layer
}


def _markdown(failures: list[dict[str, Any]]) -> str:
    lines = ["| severity | expectation | column | observed |", "|---|---|---|---|"]
    for f in failures:
        observed = "; ".join(f"{k}: {v}" for k, v in f["observed"].items()).replace("|", "/")
        lines.append(f"| {f['severity']} | {f['check']} | {f['column'] or ''} | {observed} |")
    return "\n".join(lines)


def check_result(key: dg.AssetCheckKey, result: Any) -> dg.AssetCheckResult:
    """A pipelines.quality SuiteResult as the Dagster check result of `key`."""
    md = result.metadata()
    severity = (dg.AssetCheckSeverity.ERROR if result.severity is Severity.ERROR
                else dg.AssetCheckSeverity.WARN)
    metadata: dict[str, Any] = {
        "table": result.table,
        "layer": str(result.layer),
        "landed": result.landed,
    }
    if result.landed:
        metadata |= {
            "expectations_evaluated": md["expectations_evaluated"],
            "failed_error": md["failed_error"],
            "failed_warn": md["failed_warn"],
            "rows_checked": md["rows_checked"],
            "read_window": md["read_window"],
            "read_truncated": md["read_truncated"],
            "skipped": dg.MetadataValue.json(md["skipped"]),
            "failures": dg.MetadataValue.json(md["failures"]),
            "seconds": md["seconds"],
        }
        if md["failures"]:
            metadata["failed_expectations"] = dg.MetadataValue.md(_markdown(md["failures"]))
        for f in result.failures:  # one entry per failed expectation: its observed value
            metadata[f"failed {f.check_id}"] = dg.MetadataValue.text(
                f"[{f.severity}] {f.description}: "
                + ", ".join(f"{k}={v}" for k, v in f.observed.items()))
    return dg.AssetCheckResult(
        asset_key=key.asset_key, check_name=key.name, passed=result.passed,
        severity=severity, description=result.message, metadata=metadata)


@dg.multi_asset_check(
    name="lake_quality",
    specs=[_spec(t, layer) for t, layer in SUITES.values()],
    can_subset=True,
    description="Great Expectations suites over the lake's bronze and silver tables.",
)
def lake_quality(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
    from pipelines.quality.runner import run_suite

    now = datetime.now(UTC)
    for key in SUITES:  # catalog order
        if key not in context.selected_asset_check_keys:
            continue
        table, layer = SUITES[key]
        result = run_suite(table, layer, now=now)
        context.log.info(f"{result.suite}: {result.message}")
        for f in result.failures:
            context.log.warning(f"{result.suite}: {f.line()}")
        yield check_result(key, result)


QUALITY_CHECKS = [lake_quality]
