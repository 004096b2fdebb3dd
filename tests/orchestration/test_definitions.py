"""The Dagster definitions load, and the asset graph runs landing → staging → mart."""

import dagster as dg

from orchestration.definitions import defs


def test_asset_graph_goes_from_landing_to_the_mart() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"bronze/pos_sales", "stg_pos__sales", "stg_pos__sale_items",
            "shop_sales_daily"} <= keys
    upstream = graph.get(dg.AssetKey("stg_pos__sales")).parent_keys
    assert dg.AssetKey(["bronze", "pos_sales"]) in upstream
    assert dg.AssetKey("stg_pos__sales") in graph.get(dg.AssetKey("shop_sales_daily")).parent_keys


def test_refresh_job_and_schedule_are_defined() -> None:
    job = defs.resolve_job_def("sales_refresh")
    assert job is not None
    schedule = defs.resolve_schedule_def("sales_refresh_schedule")
    assert schedule.cron_schedule == "*/5 * * * *"
