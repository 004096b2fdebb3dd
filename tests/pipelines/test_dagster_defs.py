"""The quality and retention Dagster definitions load (merged with stub lake assets keyed
like the real ones), and a failed ERROR check blocks what reads the checked table."""

import contextlib
from typing import Any

import dagster as dg
import pytest

from orchestration.defs.quality import definitions as quality
from orchestration.defs.retention import definitions as retention
from pipelines.lake_catalog import LAKE_TABLES
from pipelines.quality.rules import Layer, Severity
from pipelines.quality.runner import Failure, SuiteResult


def _stub_lake() -> list[dg.AssetsDefinition]:
    specs = [dg.AssetSpec(dg.AssetKey([str(layer), t.name])) for t in LAKE_TABLES
             for layer in Layer]

    @dg.multi_asset(specs=specs, can_subset=True)
    def lake_stub(context: dg.AssetExecutionContext) -> Any:
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key)

    @dg.asset(deps=[dg.AssetKey(["silver", "core_orders"])])
    def orders_mart() -> None:
        return None

    return [lake_stub, orders_mart]


def _merged() -> dg.Definitions:
    return dg.Definitions.merge(dg.Definitions(assets=_stub_lake()), quality.defs, retention.defs)


def test_merged_definitions_load() -> None:
    defs = _merged()
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = set(graph.asset_check_keys)
    assert keys == {dg.AssetCheckKey(dg.AssetKey([str(layer), t.name]), "quality")
                    for t in LAKE_TABLES for layer in Layer}
    assert all(graph.get_check_spec(k).blocking for k in keys)
    # the retention defs also load on their own (they need no asset)
    dg.Definitions.validate_loadable(retention.defs)


def test_retention_job_runs_nightly_at_0330_bishkek() -> None:
    defs = _merged()
    schedule = defs.resolve_schedule_def("lake_retention_nightly")
    assert schedule.cron_schedule == "30 3 * * *"
    assert schedule.execution_timezone == "Asia/Bishkek"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_job_def("lake_retention") is not None


def _result(table: str, layer: Layer, failures: list[Failure]) -> SuiteResult:
    errors = any(f.severity is Severity.ERROR for f in failures)
    return SuiteResult(f"{layer}_{table}", table, layer, landed=True, passed=not failures,
                       severity=Severity.ERROR if errors else Severity.WARN,
                       failures=failures, evaluated=10, rows=3, window="test",
                       message="stubbed")


@pytest.mark.parametrize("severity", [Severity.ERROR, Severity.WARN])
def test_a_failed_error_check_blocks_downstream(monkeypatch: pytest.MonkeyPatch,
                                               severity: Severity) -> None:
    failure = Failure("unique:event_id", severity, "one row per event_id",
                      "expect_column_values_to_be_unique", "event_id",
                      {"unexpected_count": 2, "examples": ["e1", "e1"]})

    def fake_run_suite(table: Any, layer: Layer, **_: Any) -> SuiteResult:
        bad = table.name == "core_orders" and layer is Layer.SILVER
        return _result(table.name, layer, [failure] if bad else [])

    monkeypatch.setattr("pipelines.quality.runner.run_suite", fake_run_suite)
    defs = _merged()
    selection = [dg.AssetKey(["silver", "core_orders"]), dg.AssetKey(["bronze", "core_orders"]),
                 dg.AssetKey("orders_mart")]
    job = dg.define_asset_job("t", selection=selection)
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("t") \
        .execute_in_process(raise_on_error=False)

    evaluations = {e.asset_check_key: e for e in result.get_asset_check_evaluations()}
    bad = evaluations[dg.AssetCheckKey(dg.AssetKey(["silver", "core_orders"]), "quality")]
    assert not bad.passed
    assert str(bad.metadata["failed unique:event_id"].value).startswith(f"[{severity}]")
    assert evaluations[dg.AssetCheckKey(dg.AssetKey(["bronze", "core_orders"]),
                                        "quality")].passed
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    if severity is Severity.ERROR:
        assert bad.severity == dg.AssetCheckSeverity.ERROR
        assert not result.success
        assert dg.AssetKey("orders_mart") not in materialized
    else:
        assert bad.severity == dg.AssetCheckSeverity.WARN
        assert result.success
        assert dg.AssetKey("orders_mart") in materialized


def test_retention_op_reports_what_it_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.retention import TableRetention

    seen: dict[str, Any] = {}

    def fake_apply_retention(spark: Any, **kwargs: Any) -> list[TableRetention]:
        seen.update(kwargs)
        return [
            TableRetention("core_orders", "bronze", "bronze/core_orders", "raw_events",
                           "deleted", "2025-05-15", rows_deleted=7, files_removed=2,
                           vacuum="lite"),
            TableRetention("core_orders", "silver", "silver/core_orders", "raw_events",
                           "nothing_expired", "2025-05-15", vacuum="lite"),
            TableRetention("core_users", "bronze", "bronze/core_users", "raw_events",
                           "not_landed", "2025-05-15"),
        ]

    monkeypatch.setattr("pipelines.retention.apply_retention", fake_apply_retention)
    # the op's answer when it holds the lake, whether or not a landing service runs now
    monkeypatch.setattr("pipelines.landing.exclusive_landing", contextlib.nullcontext)
    monkeypatch.setattr("pipelines.spark_session.build_session",
                        lambda name: type("NoSpark", (), {"stop": lambda self: None})())
    monkeypatch.setattr("pipelines.erasure.apply_erasures", lambda spark, **kw: [])
    job = _merged().resolve_job_def("lake_retention")
    result = job.execute_in_process(run_config={"ops": {"expire_lake": {"config": {
        "now": "2026-06-15T07:30:00+06:00", "dry_run": False}}}})
    assert result.success
    assert seen["now"].isoformat() == "2026-06-15T07:30:00+06:00"
    observed = [e.asset_observation_data.asset_observation
                for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert [o.asset_key for o in observed] == [dg.AssetKey(["bronze", "core_orders"])]
    assert observed[0].metadata["rows_deleted"].value == 7
    assert [r["layer"] for r in result.output_for_node("expire_lake")] == ["bronze", "silver"]
