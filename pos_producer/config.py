"""A terminal's own configuration: who it is (device id, shop), its credentials and where
its durable outbox lives. It is the device's, not the platform's, so it comes from flags or
a TOML/JSON file, never from the platform's settings (the broker and registry addresses
and the data folder come from the terminal's environment: `pos_producer.settings`)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from pos_producer.settings import get_pos_settings

DEFAULT_RETENTION = timedelta(days=7)
# How long librdkafka keeps trying one message before reporting it failed; a failed
# message stays unsent in the outbox and is produced again on a later pump.
DEFAULT_MESSAGE_TIMEOUT_MS = 120_000


def default_outbox_path(device_id: str) -> Path:
    return get_pos_settings().data_dir / f"{device_id}.sqlite"


@dataclass(frozen=True)
class DeviceConfig:
    device_id: str
    shop_id: UUID
    token: str
    secret: str = field(repr=False)
    outbox_path: Path | None = None
    # Delivered events are kept this long (for `status` and support), then pruned.
    retention: timedelta = DEFAULT_RETENTION
    message_timeout_ms: int = DEFAULT_MESSAGE_TIMEOUT_MS
    # Extra librdkafka settings (tests shorten timeouts with it).
    producer_config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.device_id:
            raise ValueError("device_id is required")
        if not isinstance(self.shop_id, UUID):
            object.__setattr__(self, "shop_id", UUID(str(self.shop_id)))
        if not self.token or not self.secret:
            raise ValueError("token and secret are required")
        if self.outbox_path is None:
            object.__setattr__(self, "outbox_path", default_outbox_path(self.device_id))
        elif not isinstance(self.outbox_path, Path):
            object.__setattr__(self, "outbox_path", Path(self.outbox_path))
        if self.retention < timedelta(0):
            raise ValueError("retention must not be negative")
        if self.message_timeout_ms < 1000:
            raise ValueError("message_timeout_ms must be at least 1000")

    @property
    def outbox(self) -> Path:
        assert self.outbox_path is not None  # set in __post_init__
        return self.outbox_path


_KEYS = {"device_id", "shop_id", "token", "secret", "outbox_path", "retention_days",
         "message_timeout_ms"}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a device config file (`.toml` or `.json`) into DeviceConfig keyword arguments."""
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a table/object of settings")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {sorted(unknown)}")
    return config_kwargs(raw)


def config_kwargs(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise loosely typed settings (strings from a file or flags) to DeviceConfig's."""
    out: dict[str, Any] = {k: v for k, v in raw.items() if v is not None}
    if "retention_days" in out:
        out["retention"] = timedelta(days=float(out.pop("retention_days")))
    if "outbox_path" in out:
        out["outbox_path"] = Path(out["outbox_path"])
    if "shop_id" in out:
        out["shop_id"] = UUID(str(out["shop_id"]))
    return out
