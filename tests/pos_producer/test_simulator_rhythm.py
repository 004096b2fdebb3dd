"""The daily rhythm of the tills: shut at night, peaks at lunch and in the evening."""

from __future__ import annotations

from datetime import datetime

from pos_producer.simulator.rhythm import BISHKEK, daily_curve, intensity, is_open
from pos_producer.simulator.world import market

SATURDAY = datetime(2025, 6, 14, tzinfo=BISHKEK)
TUESDAY = datetime(2025, 6, 10, tzinfo=BISHKEK)


def _at(day: datetime, hour: float) -> datetime:
    return day.replace(hour=int(hour), minute=int(hour % 1 * 60))


def test_values_are_shares_and_zero_when_closed() -> None:
    for key in ("dordoi", "osh", "tsum", "asia-mall"):
        m = market(key)
        curve = daily_curve(m, SATURDAY, step_minutes=10)
        assert all(0.0 <= x <= 1.0 for x in curve)
        assert max(curve) > 0.6
        assert intensity(m, _at(SATURDAY, 3)) == 0.0
        assert intensity(m, _at(SATURDAY, 23)) == 0.0
        assert not is_open(m, _at(SATURDAY, 23.5))


def test_dordoi_opens_early_malls_late() -> None:
    dordoi, mall, osh = market("dordoi"), market("bishkek-park"), market("osh")
    assert intensity(dordoi, _at(TUESDAY, 7)) > 0
    assert intensity(mall, _at(TUESDAY, 7)) == 0 and intensity(osh, _at(TUESDAY, 7)) == 0
    assert intensity(osh, _at(TUESDAY, 18.75)) == 0  # bazaars close ~18-19
    assert intensity(mall, _at(TUESDAY, 20.5)) > 0  # malls are open in the evening


def test_lunch_and_evening_peaks_beat_the_quiet_hours() -> None:
    osh, mall = market("osh"), market("asia-mall")
    assert intensity(osh, _at(TUESDAY, 13)) > intensity(osh, _at(TUESDAY, 15.5))
    assert intensity(osh, _at(TUESDAY, 17.5)) > intensity(osh, _at(TUESDAY, 15.5))
    assert intensity(mall, _at(TUESDAY, 19)) > intensity(mall, _at(TUESDAY, 11))
    assert intensity(mall, _at(SATURDAY, 19)) > intensity(mall, _at(TUESDAY, 19))


def test_timezone_is_bishkek() -> None:
    osh = market("osh")
    utc_noon = datetime.fromisoformat("2025-06-10T07:00:00+00:00")  # 13:00 in Bishkek
    assert intensity(osh, utc_noon) == intensity(osh, _at(TUESDAY, 13))
