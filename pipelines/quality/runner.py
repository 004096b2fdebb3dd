"""Running a suite: read a bounded window of the Delta table into pandas through
ClickHouse's Delta Lake reader, validate it with Great Expectations, report each failure.

Great Expectations runs in an ephemeral context (nothing written to disk) on a pandas data
source: one dataframe asset per suite, a whole-dataframe batch definition, the generated
ExpectationSuite and a ValidationDefinition tying them together.

What is read: the columns the suite looks at, from the latest WINDOW_DAYS partitions of the
table's partition column (`kafka_date`, `_event_date`) ending at today at the latest, at
most MAX_ROWS rows; bronze `value` as its length in bytes (the checks only need to know
it is there). The result says which window it read and whether the row cap cut it short.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pipelines.lake_catalog import LakeTable, by_name
from pipelines.quality.rules import MAX_ROWS, WINDOW_DAYS, Layer, Reference, Severity
from pipelines.quality.suites import Check, SuiteSpec, build_suite, reference_check

PARTIAL_UNEXPECTED = 5  # example values kept per failed expectation


@dataclass(frozen=True)
class Failure:
    check_id: str
    severity: Severity
    description: str
    expectation: str
    column: str | None
    observed: dict[str, Any]  # JSON-able: unexpected count/percent, examples, observed value

    def line(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.observed.items())
        return f"[{self.severity}] {self.check_id}: {self.description} ({shown})"


@dataclass
class SuiteResult:
    suite: str
    table: str
    layer: Layer
    landed: bool
    passed: bool
    severity: Severity  # ERROR when an ERROR expectation failed, else WARN
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # checks not run, and why
    evaluated: int = 0
    rows: int = 0
    window: str = ""
    truncated: bool = False
    seconds: float = 0.0
    message: str = ""

    @property
    def errors(self) -> list[Failure]:
        return [f for f in self.failures if f.severity is Severity.ERROR]

    def metadata(self) -> dict[str, Any]:
        """Plain, JSON-able values (the Dagster check turns them into metadata)."""
        return {
            "suite": self.suite,
            "landed": self.landed,
            "expectations_evaluated": self.evaluated,
            "failed_error": len(self.errors),
            "failed_warn": len(self.failures) - len(self.errors),
            "failures": [
                {"check": f.check_id, "severity": str(f.severity), "expectation": f.expectation,
                 "column": f.column, "description": f.description, "observed": f.observed}
                for f in self.failures
            ],
            "skipped": list(self.skipped),
            "rows_checked": self.rows,
            "read_window": self.window,
            "read_truncated": self.truncated,
            "seconds": round(self.seconds, 2),
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return str(value)


def _layer_path(table: LakeTable, layer: Layer) -> str:
    return table.bronze_path if layer is Layer.BRONZE else table.silver_path


# --- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    column: str
    first: date | None
    last: date | None

    def where(self) -> str:
        if self.first is None or self.last is None:
            return "false"
        return f"{self.column} >= toDate32('{self.first}')"

    def describe(self, days: int) -> str:
        if self.first is None:
            return f"{self.column}: no partitions (empty table)"
        return (f"{self.column} from {self.first} to {self.last} (the latest {days} days, "
                "ending today at the latest; later partitions included)")


def _window(source: str, column: str, today: date, days: int) -> Window:
    from warehouse import lake

    df = lake.query_df(f"SELECT least(max({column}), toDate32('{today}')) AS hi FROM {source}")
    hi = df["hi"].iloc[0] if len(df) else None
    if hi is None or str(hi) in ("NaT", "None", "nan"):
        return Window(column, None, None)
    last = hi.date() if hasattr(hi, "date") else hi
    return Window(column, last - timedelta(days=days - 1), last)


def _select(columns: tuple[str, ...], present: dict[str, str], layer: Layer) -> str:
    out = []
    for col in columns:
        if col not in present:
            continue  # the suite's column_exists check reports it
        if layer is Layer.BRONZE and col == "value":
            out.append("length(value) AS value")  # bytes are not needed, only their presence
        else:
            out.append(f"`{col}`")
    return ", ".join(out) or "1 AS _no_columns"


def read_window(spec: SuiteSpec, *, today: date, days: int = WINDOW_DAYS,
                max_rows: int = MAX_ROWS) -> tuple[Any, Window, str | None]:
    """(pandas frame, window read, note) for a suite over its landed table."""
    from warehouse import lake

    rel = _layer_path(spec.table, spec.layer)
    source = lake.delta_source(rel)
    present = lake.delta_columns(rel)
    select = _select(spec.columns, present, spec.layer)
    part = spec.partition_column
    if part not in present:
        df = lake.query_df(f"SELECT {select} FROM {source} LIMIT {max_rows}")
        return df, Window(part, None, None), f"no {part} column: read any {max_rows} rows"
    window = _window(source, part, today, days)
    df = lake.query_df(f"SELECT {select} FROM {source} WHERE {window.where()} LIMIT {max_rows}")
    if "_no_columns" in df.columns:
        df = df.drop(columns=["_no_columns"])
    if df.empty and len(df.columns) == 0:
        # an empty result comes back without columns; the table has them (a landed topic
        # with no record yet): validate an empty frame of the table's columns
        import pandas as pd

        df = pd.DataFrame({c: pd.Series(dtype=object) for c in spec.columns if c in present})
    return df, window, None


def reference_values(ref: Reference, spec: SuiteSpec, window: Window,
                     max_rows: int) -> tuple[list[Any] | None, str]:
    """Target keys that the source window's values match, or (None, why it is skipped)."""
    from warehouse import lake

    try:
        target = by_name(ref.target)
    except KeyError:
        return None, f"{ref.target} is not in the lake catalog"
    if target.current_path is None:
        return None, f"{ref.target} has no current-state table"
    if not lake.delta_exists(target.current_path):
        return None, f"{ref.target}_current is not landed yet"
    source = lake.delta_source(_layer_path(spec.table, spec.layer))
    where = window.where() if window.first is not None else "true"
    df = lake.query_df(
        f"SELECT DISTINCT toString(`{ref.target_column}`) AS k "
        f"FROM {lake.delta_source(target.current_path)} WHERE toString(`{ref.target_column}`) "
        f"IN (SELECT toString(`{ref.column}`) FROM (SELECT `{ref.column}` FROM {source} "
        f"WHERE {where} LIMIT {max_rows}))")
    return [str(v) for v in df["k"].tolist()], ""


# --- validating -------------------------------------------------------------------------------

def validate(spec: SuiteSpec, df: Any, extra: tuple[Check, ...] = ()) -> tuple[int, list[Failure]]:
    """(expectations evaluated, failures) of the suite (plus `extra` checks) over `df`."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas("lake")
             .add_dataframe_asset(spec.name)
             .add_batch_definition_whole_dataframe("read_window"))
    suite = context.suites.add(spec.to_gx(extra))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=spec.name, data=batch, suite=suite))
    result = definition.run(
        batch_parameters={"dataframe": df},
        result_format={"result_format": "SUMMARY",
                       "partial_unexpected_count": PARTIAL_UNEXPECTED},
    )
    checks = {c.id: c for c in (*spec.checks, *extra)}
    failures: list[Failure] = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        assert config is not None
        check = checks[(config.meta or {})["check_id"]]
        failures.append(Failure(check.id, check.severity, check.description,
                                config.type, check.column, _observed(r)))
    order = {c.id: i for i, c in enumerate(checks.values())}
    failures.sort(key=lambda f: order[f.check_id])
    return len(result.results), failures


def _observed(r: Any) -> dict[str, Any]:
    res = dict(r.result or {})
    info = r.exception_info or {}
    if info.get("raised_exception"):
        message = str(info.get("exception_message") or "")
        return {"error": message.splitlines()[0][:300] if message else "raised"}
    out: dict[str, Any] = {}
    for key in ("observed_value", "unexpected_count", "unexpected_percent", "element_count",
                "partial_unexpected_list"):
        if key in res and res[key] is not None:
            value = res[key]
            if key == "unexpected_percent":
                value = round(float(value), 3)
            out["examples" if key == "partial_unexpected_list" else key] = _jsonable(value)
    return out


def run_suite(table: LakeTable | str, layer: Layer | str, *, now: datetime | None = None,
              days: int = WINDOW_DAYS, max_rows: int = MAX_ROWS) -> SuiteResult:
    """Validate one table's layer. A table not landed yet is a failed WARN, not an error."""
    from warehouse import lake

    started = time.monotonic()
    table = by_name(table) if isinstance(table, str) else table
    layer = Layer(layer)
    now = now or datetime.now(UTC)
    spec = build_suite(table, layer, now=now)
    rel = _layer_path(table, layer)
    if not lake.delta_exists(rel):
        return SuiteResult(spec.name, table.name, layer, landed=False, passed=False,
                           severity=Severity.WARN, seconds=time.monotonic() - started,
                           message=f"not landed yet: no Delta table at {rel}")
    df, window, note = read_window(spec, today=now.astimezone(UTC).date(), days=days,
                                   max_rows=max_rows)
    extra: list[Check] = []
    skipped: list[str] = []
    for ref in spec.references:
        values, why = reference_values(ref, spec, window, max_rows)
        if values is None:
            skipped.append(f"reference:{ref.id}: skipped, {why}")
        else:
            extra.append(reference_check(ref, values))
    evaluated, failures = validate(spec, df, tuple(extra))
    errors = any(f.severity is Severity.ERROR for f in failures)
    described = note or window.describe(days)
    result = SuiteResult(
        spec.name, table.name, layer, landed=True, passed=not failures,
        severity=Severity.ERROR if errors else Severity.WARN, failures=failures,
        skipped=skipped, evaluated=evaluated, rows=len(df), window=described,
        truncated=len(df) >= max_rows, seconds=time.monotonic() - started,
    )
    result.message = (f"{len(df)} rows ({described}"
                      f"{'; capped at ' + str(max_rows) + ' rows' if result.truncated else ''}): "
                      + ("all expectations met" if not failures
                         else f"{len(result.errors)} ERROR and "
                              f"{len(failures) - len(result.errors)} WARN expectation(s) failed"))
    return result
