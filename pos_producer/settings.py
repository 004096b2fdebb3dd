"""The terminal's own settings, from its environment: where the broker, the schema registry
and the core's API are, and where it keeps its files.

`pos_producer` ships to shops, so it reads none of the platform's settings (infra/settings.py)
and imports nothing from the core. It reads the same variable names, with the same local
defaults, and a `.env` file beside the package (a checkout's) under the environment, as the
platform does, so on a developer's machine it finds the local stack with no configuration
(tests/pos_producer/test_settings.py checks the two agree). Read on every call (cheap): a
changed environment is seen at once.

| variable | default |
|---|---|
| `KAFKA_BOOTSTRAP_SERVERS` | `$PLATFORM_BIND_HOST:$KAFKA_PORT` (127.0.0.1:9092) |
| `SCHEMA_REGISTRY_URL` | `http://$PLATFORM_BIND_HOST:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7` |
| `CORE_API_URL` | `http://$PLATFORM_BIND_HOST:$CORE_API_PORT` (port 8000) |
| `POS_DATA_DIR` | `$PLATFORM_LOCAL_DIR/pos`, else `.local/pos` beside this package |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PosSettings:
    kafka_bootstrap_servers: str
    schema_registry_url: str
    core_api_url: str
    data_dir: Path  # outboxes (`<device>.sqlite`), the simulator's state and runs


def _get(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a `.env` file (comments, blanks and `export ` are skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in lines:
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def get_pos_settings(env: Mapping[str, str] | None = None) -> PosSettings:
    e = {**_dotenv(_PACKAGE_ROOT / ".env"), **os.environ} if env is None else env
    host = _get(e, "PLATFORM_BIND_HOST", "127.0.0.1")
    local_dir = Path(_get(e, "PLATFORM_LOCAL_DIR", str(_PACKAGE_ROOT / ".local")))
    return PosSettings(
        kafka_bootstrap_servers=_get(
            e, "KAFKA_BOOTSTRAP_SERVERS", f"{host}:{_get(e, 'KAFKA_PORT', '9092')}"),
        schema_registry_url=_get(
            e, "SCHEMA_REGISTRY_URL",
            f"http://{host}:{_get(e, 'SCHEMA_REGISTRY_PORT', '8081')}/apis/ccompat/v7"),
        core_api_url=_get(e, "CORE_API_URL", f"http://{host}:{_get(e, 'CORE_API_PORT', '8000')}"),
        data_dir=Path(_get(e, "POS_DATA_DIR", str(local_dir / "pos"))),
    )
