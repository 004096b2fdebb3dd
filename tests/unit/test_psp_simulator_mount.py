"""The PSP simulator is a local stand-in: its routes exist only when the settings choose it
(issue 11 §1: simulators live apart and are mounted only when enabled)."""

from __future__ import annotations

import pytest

from infra.settings import get_settings
from marketplace_core.api.routers import all_routers


def _paths() -> set[str]:
    return {route.path for router in all_routers() for route in router.routes}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("provider", "mounted"), [("simulator", True), ("optima", False)])
def test_the_simulator_is_mounted_only_when_chosen(provider: str, mounted: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_PSP_PROVIDER", provider)
    get_settings.cache_clear()
    try:
        paths = _paths()
    finally:
        get_settings.cache_clear()
    assert any(p.startswith("/psp-sim") for p in paths) is mounted
    assert "/webhooks/psp" in paths  # the real provider's webhook stays
