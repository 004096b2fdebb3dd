"""The buyer-session simulator: its daily rhythm, and a short run through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marketplace_core.behaviour.intake import EventIntake
from marketplace_core.behaviour.simulate import BISHKEK, intensity, simulate


def test_evenings_and_weekends_are_busier() -> None:
    tuesday = datetime(2026, 12, 1, tzinfo=BISHKEK)
    saturday = datetime(2026, 12, 5, tzinfo=BISHKEK)
    evening, morning, night = (tuesday.replace(hour=20, minute=30),
                               tuesday.replace(hour=10), tuesday.replace(hour=3))
    assert intensity(evening) > intensity(morning) > intensity(night)
    assert intensity(saturday.replace(hour=20, minute=30)) > intensity(evening)
    assert intensity(night) < 0.1


def test_a_simulated_evening_goes_through_the_api(core_api: Any, intake: EventIntake) -> None:
    stats = simulate(api="", hours=3, speedup=1e9, peak=120, seed=3, batch=50,
                     retry_rate=0.3, client=core_api)
    assert stats.sessions > 0 and stats.errors == 0
    assert stats.statuses["accepted"] > 0
    assert stats.statuses["rejected"] == 0, stats.codes
    assert stats.statuses["duplicate"] > 0  # the retried batches
    assert {"search", "view", "click"} <= set(stats.events)
