"""infra asks the application for its workers' health through a child process
(`python -m marketplace_core.health <service>`), since it imports nothing from it."""

from __future__ import annotations

import pytest

from infra.services.base import probe
from marketplace_core import health


def test_an_unknown_service_is_an_unhealthy_answer_not_a_crash() -> None:
    answer = probe("marketplace_core.health", "no-such-service")
    assert not answer.ok and "exit 2" in answer.detail and "usage" in answer.detail


def test_a_probe_that_cannot_reach_the_database_answers_unhealthy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> tuple[bool, str]:
        raise ConnectionRefusedError

    monkeypatch.setitem(health.PROBES, "outbox-relay", down)
    assert health.probe("outbox-relay") == {"ok": False,
                                            "detail": "database: ConnectionRefusedError"}


def test_every_app_service_with_a_core_probe_has_one() -> None:
    from infra.services.apps import NotificationsWorker, OutboxRelay, PosIngest

    assert {OutboxRelay.name, PosIngest.name, NotificationsWorker.name} == set(health.PROBES)
