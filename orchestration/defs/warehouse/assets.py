"""Warehouse domain: the dbt project's models as assets, built where the warehouse lives."""


import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets

from infra.settings import REPO_ROOT
from orchestration.defs.warehouse.resources import WarehouseRefresher

dbt_project = DbtProject(project_dir=REPO_ROOT / "dbt", profiles_dir=REPO_ROOT / "dbt")


def _manifest_stale() -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    root = REPO_ROOT / "dbt"
    sources = [root / "dbt_project.yml", *root.glob("models/**/*"), *root.glob("macros/**/*"),
               *root.glob("tests/**/*")]
    return any(p.stat().st_mtime > built for p in sources if p.is_file())


def _ensure_manifest() -> None:
    """The asset graph comes from dbt's manifest; parse it (no warehouse access) when it is
    missing or older than the project's files."""
    if _manifest_stale():
        # parse into a private folder, then swap the manifest in atomically: other processes
        # (the daemon, the webserver, tests) may be reading it at this moment
        private = dbt_project.project_dir / "target" / f"parse-{os.getpid()}"
        subprocess.run([sys.executable, "-m", "warehouse.dbt_cli", "parse", "--quiet",
                        "--target-path", str(private)], check=True, cwd=REPO_ROOT)
        os.replace(private / "manifest.json", dbt_project.manifest_path)
        shutil.rmtree(private, ignore_errors=True)


_ensure_manifest()


class Translator(DagsterDbtTranslator):
    """Models sit in the `warehouse` group; lake sources are the lake assets that land them
    (`bronze_<t>` -> bronze/<t>; `<t>` and `<t>_current` -> silver/...)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            name = dbt_resource_props["name"]
            if name.startswith("bronze_"):
                return dg.AssetKey(["bronze", name.removeprefix("bronze_")])
            return dg.AssetKey(["silver", name])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "warehouse"


# dbt tests run inside `dbt build` and fail the step; they are not separate Dagster checks.
TRANSLATOR = Translator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=False))


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=TRANSLATOR)
def warehouse_models(
    context: dg.AssetExecutionContext, warehouse: WarehouseRefresher
) -> Iterator[dg.MaterializeResult]:
    models = sorted(key.path[-1] for key in context.selected_asset_keys)
    context.log.info(f"dbt build --select {' '.join(models)}")
    # cautious: a test that also reads an unselected model waits for a run that builds it
    result = warehouse.refresh(["build", "--select", *models,
                                "--indirect-selection", "cautious"])
    failed = [n for n in result["nodes"] if n["status"] not in ("success", "pass")]
    selected = {key.path[-1]: key for key in context.selected_asset_keys}
    # dbt reports nodes in the order it ran them (dependencies first); Dagster requires
    # a multi-asset to yield in topological order, which a set of keys does not give.
    for node in result["nodes"]:
        key = selected.get(node["name"])
        if key is not None and node["status"] == "success":
            yield dg.MaterializeResult(
                asset_key=key, metadata={"dbt_seconds": round(node["seconds"], 2)}
            )
    if failed or not result["success"]:
        raise dg.Failure(
            "dbt build failed",
            metadata={
                "failed": [f"{n['name']}: {n['status']} {n.get('message') or ''}" for n in failed]
            },
        )
