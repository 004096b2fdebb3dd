"""The terminal's own settings (`pos_producer.settings`, from its environment) find the same
broker, registry, core API and data folder as the platform's settings would, by default and
with the same variables set: the terminal reads none of the platform's settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.settings import get_settings
from pos_producer.settings import get_pos_settings

VARIABLES = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PORT", "SCHEMA_REGISTRY_URL",
             "SCHEMA_REGISTRY_PORT", "CORE_API_URL", "CORE_API_PORT", "PLATFORM_BIND_HOST",
             "PLATFORM_LOCAL_DIR", "POS_DATA_DIR")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _agree() -> None:
    get_settings.cache_clear()
    platform, pos = get_settings(), get_pos_settings()
    assert pos.kafka_bootstrap_servers == platform.kafka_bootstrap_servers
    assert pos.schema_registry_url == platform.schema_registry_url
    assert pos.core_api_url == platform.core_api_url
    assert pos.data_dir == platform.local_dir / "pos"


def test_defaults_agree_with_the_platform(clean_env: pytest.MonkeyPatch) -> None:
    _agree()


def test_the_same_variables_move_both(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("PLATFORM_BIND_HOST", "10.1.2.3")
    clean_env.setenv("KAFKA_PORT", "19092")
    clean_env.setenv("SCHEMA_REGISTRY_PORT", "18081")
    clean_env.setenv("CORE_API_PORT", "18000")
    clean_env.setenv("PLATFORM_LOCAL_DIR", str(tmp_path))
    _agree()
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092,broker-b:9092")
    clean_env.setenv("SCHEMA_REGISTRY_URL", "https://registry.example/apis/ccompat/v7")
    clean_env.setenv("CORE_API_URL", "https://core.example")
    _agree()


def test_a_terminal_may_keep_its_files_elsewhere(clean_env: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    clean_env.setenv("POS_DATA_DIR", str(tmp_path / "till"))
    assert get_pos_settings().data_dir == tmp_path / "till"
