"""The import contracts in pyproject.toml (`[tool.importlinter]`) hold: the core's layers
(API over domains over `db`), no domain imports the API, `infra` imports nothing from the
application, and `pos_producer` (which ships to shops) nothing from the core or the
platform settings. `make lint` runs the same `lint-imports`."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_lint_imports_keeps_every_contract() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_domain_package_is_in_the_layers() -> None:
    layers = next(c for c in _contracts() if c["type"] == "layers")
    assert layers["containers"] == ["marketplace_core"]
    listed = {name.strip().strip("()") for layer in layers["layers"]  # type: ignore[attr-defined]
              for name in str(layer).split(":")}
    packages = {p.name for p in (ROOT / "marketplace_core").iterdir()
                if p.is_dir() and not p.name.startswith(("_", ".")) and any(p.glob("*.py"))}
    missing = sorted(packages - listed - {"migrations"})
    assert not missing, f"add these packages to the core layers contract: {missing}"
