"""The Dagster definitions load, generated from the lake catalog: every table's bronze and
silver assets, the dbt models downstream of them, blocking quality checks, freshness
policies, and the schedules switched on by default."""

import dagster as dg

from orchestration.definitions import defs
from pipelines.lake_catalog import LAKE_TABLES


def test_every_catalog_table_is_an_asset_with_a_freshness_policy() -> None:
    graph = defs.resolve_asset_graph()
    for t in LAKE_TABLES:
        for layer in ("bronze", "silver"):
            node = graph.get(dg.AssetKey([layer, t.name]))
            assert node.freshness_policy is not None, f"{layer}/{t.name}"
        if t.entity_key:
            assert graph.has(dg.AssetKey(["silver", f"{t.name}_current"]))


def test_asset_graph_goes_from_the_core_truth_to_the_seller_mart() -> None:
    graph = defs.resolve_asset_graph()
    receipts = dg.AssetKey(["silver", "core_pos_receipts"])
    staged = dg.AssetKey("stg_core__pos_receipts")
    assert receipts in graph.get(staged).parent_keys
    mart = dg.AssetKey("shop_metric_daily")
    assert staged in graph.get_ancestor_asset_keys(mart)
    assert dg.AssetKey(["bronze", "core_pos_receipts"]) in graph.get(receipts).parent_keys


def test_quality_checks_block_downstream() -> None:
    checks = list(defs.resolve_asset_graph().asset_check_keys)
    silver = [c for c in checks if c.asset_key == dg.AssetKey(["silver", "core_pos_receipts"])]
    assert silver
    assert defs.resolve_asset_graph().get_check_spec(silver[0]).blocking


def test_refresh_and_retention_schedules_run_by_default() -> None:
    refresh = defs.resolve_schedule_def("lake_refresh_schedule")
    assert refresh.cron_schedule == "*/5 * * * *"
    assert refresh.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_job_def("lake_refresh") is not None
    retention = [s for s in defs.schedules or [] if s.job_name == "lake_retention"]
    assert retention and retention[0].default_status == dg.DefaultScheduleStatus.RUNNING
