"""Expectation suites generated from the lake catalog and the Avro schemas.

One suite per catalog table and layer (bronze, silver); nothing is written per table by
hand: the rules in `rules.py` are applied to each table's catalog entry and to the
top-level fields of its topic's `.avsc`.

bronze  the landing layout's columns exist; topic, partition, offset, value are not null;
        (partition, offset) is unique; decode_error is one of the known codes (ERROR);
        no record failed to decode (WARN);
silver  every field of the schema and every landing column exists; every non-nullable
        field is not null; the dedup key is unique (ERROR); money (Avro decimals of scale
        2) is a whole number of tyiyn (ERROR), within |x| < 10^10 and, unless listed in
        MONEY_MAY_BE_NEGATIVE, not negative (ERROR; WARN for device-sent tables); the event
        time is not in the far future (WARN); references to other tables' current state,
        declared in REFERENCES, hold (WARN; their value sets are read at run time).

Each expectation carries its severity twice: ours (ERROR, WARN) in `meta`, and Great
Expectations' own (`critical`, `warning`) in `severity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipelines.lake_catalog import LAKE_TABLES, LakeTable
from pipelines.quality.avro_fields import AvroField, top_level_fields
from pipelines.quality.rules import (
    BRONZE_COLUMNS,
    BRONZE_KAFKA_ID,
    BRONZE_NOT_NULL,
    DEVICE_SENT_TABLES,
    FUTURE_TOLERANCE,
    KNOWN_DECODE_ERRORS,
    MONEY_LIMIT,
    MONEY_MAY_BE_NEGATIVE,
    PARTITION_COLUMN,
    REFERENCES,
    SILVER_META_COLUMNS,
    Layer,
    Reference,
    Severity,
)

if TYPE_CHECKING:
    import great_expectations as gx

# A whole number of tyiyn, written as Decimal/str prints it ("12.30", "12.300", "-5").
WHOLE_TYIYN = r"^-?\d+(?:\.\d{1,2}0*)?$"


@dataclass(frozen=True)
class Check:
    """One expectation of a suite: which Great Expectations class, on what, how hard."""

    id: str
    severity: Severity
    description: str
    expectation: str  # class name in great_expectations.expectations
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        return str(col) if col is not None else None

    def to_gx(self) -> Any:
        import great_expectations as gx
        from great_expectations.expectations.metadata_types import FailureSeverity

        cls = getattr(gx.expectations, self.expectation)
        severity = (FailureSeverity.CRITICAL if self.severity is Severity.ERROR
                    else FailureSeverity.WARNING)
        return cls(**self.kwargs, severity=severity, description=self.description,
                   meta={"check_id": self.id, "severity": str(self.severity)})


@dataclass(frozen=True)
class SuiteSpec:
    table: LakeTable
    layer: Layer
    checks: tuple[Check, ...]
    references: tuple[Reference, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.layer}_{self.table.name}"

    @property
    def partition_column(self) -> str:
        return PARTITION_COLUMN[self.layer]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a check of the suite looks at (what the runner reads)."""
        out: dict[str, None] = {}
        for c in self.checks:
            for col in ([c.column] if c.column else c.kwargs.get("column_list", [])):
                out[col] = None
        for r in self.references:
            out[r.column] = None
        return tuple(out)

    def to_gx(self, extra: tuple[Check, ...] = ()) -> gx.ExpectationSuite:
        import great_expectations as gx

        return gx.ExpectationSuite(name=self.name,
                                   expectations=[c.to_gx() for c in (*self.checks, *extra)])


def _exists(col: str) -> Check:
    return Check(f"column_exists:{col}", Severity.ERROR, f"column {col} exists",
                 "ExpectColumnToExist", {"column": col})


def _not_null(col: str, why: str = "") -> Check:
    return Check(f"not_null:{col}", Severity.ERROR, f"{col} is never null{why}",
                 "ExpectColumnValuesToNotBeNull", {"column": col})


def bronze_checks(table: LakeTable) -> tuple[Check, ...]:
    return (
        *(_exists(c) for c in BRONZE_COLUMNS),
        *(_not_null(c) for c in BRONZE_NOT_NULL),
        Check("unique:partition,offset", Severity.ERROR,
              f"one row per Kafka record of {table.topic.name} (partition, offset)",
              "ExpectCompoundColumnsToBeUnique", {"column_list": list(BRONZE_KAFKA_ID)}),
        Check("known_codes:decode_error", Severity.ERROR,
              "decode_error is null or one of " + ", ".join(KNOWN_DECODE_ERRORS),
              "ExpectColumnValuesToBeInSet",
              {"column": "decode_error", "value_set": list(KNOWN_DECODE_ERRORS)}),
        Check("decoded:decode_error", Severity.WARN,
              "every record decoded (undecodable ones stay in bronze, out of silver)",
              "ExpectColumnValuesToBeNull", {"column": "decode_error"}),
    )


def money_checks(table: LakeTable, f: AvroField) -> tuple[Check, ...]:
    value_severity = Severity.WARN if table.name in DEVICE_SENT_TABLES else Severity.ERROR
    checks = [
        Check(f"money_scale:{f.name}", Severity.ERROR,
              f"{f.name} is a whole number of tyiyn (at most 2 decimals)",
              "ExpectColumnValuesToMatchRegex", {"column": f.name, "regex": WHOLE_TYIYN}),
        Check(f"money_range:{f.name}", value_severity, f"|{f.name}| < {MONEY_LIMIT:.0e} KGS",
              "ExpectColumnValuesToBeBetween",
              {"column": f.name, "min_value": -MONEY_LIMIT, "max_value": MONEY_LIMIT,
               "strict_min": True, "strict_max": True}),
    ]
    if f.name not in MONEY_MAY_BE_NEGATIVE.get(table.name, frozenset()):
        checks.append(Check(f"money_non_negative:{f.name}", value_severity,
                            f"{f.name} is not negative", "ExpectColumnValuesToBeBetween",
                            {"column": f.name, "min_value": 0}))
    return tuple(checks)


def silver_checks(table: LakeTable, now: datetime) -> tuple[Check, ...]:
    fields = top_level_fields(table.topic)
    names = {f.name for f in fields}
    for col in (table.dedup_key, table.event_time):
        if col not in names:
            raise ValueError(f"{table.name}: {col!r} is not a field of {table.topic.schema_file}")
    latest = (now.astimezone(UTC) + FUTURE_TOLERANCE).replace(tzinfo=None)  # lake: naive UTC
    return (
        *(_exists(f.name) for f in fields),
        *(_exists(c) for c in SILVER_META_COLUMNS),
        *(_not_null(f.name, " (not nullable in the schema)") for f in fields if not f.nullable),
        _not_null(PARTITION_COLUMN[Layer.SILVER], " (partition column)"),
        Check(f"unique:{table.dedup_key}", Severity.ERROR,
              f"one row per {table.dedup_key} (the dedup key)",
              "ExpectColumnValuesToBeUnique", {"column": table.dedup_key}),
        *(c for f in fields if f.is_money for c in money_checks(table, f)),
        Check(f"not_future:{table.event_time}", Severity.WARN,
              f"{table.event_time} is at most {FUTURE_TOLERANCE} after the check ran",
              "ExpectColumnValuesToBeBetween",
              {"column": table.event_time, "max_value": latest}),
    )


def references_of(table: LakeTable) -> tuple[Reference, ...]:
    return tuple(r for r in REFERENCES if r.table == table.name)


def reference_check(ref: Reference, values: list[Any]) -> Check:
    return Check(f"reference:{ref.id}", ref.severity,
                 f"every {ref.column} exists in {ref.target}_current.{ref.target_column}",
                 "ExpectColumnValuesToBeInSet", {"column": ref.column, "value_set": values})


def build_suite(table: LakeTable, layer: Layer, *, now: datetime | None = None) -> SuiteSpec:
    now = now or datetime.now(UTC)
    if layer is Layer.BRONZE:
        return SuiteSpec(table, layer, bronze_checks(table))
    return SuiteSpec(table, layer, silver_checks(table, now), references_of(table))


def all_suites(now: datetime | None = None) -> list[SuiteSpec]:
    return [build_suite(t, layer, now=now) for t in LAKE_TABLES for layer in Layer]
