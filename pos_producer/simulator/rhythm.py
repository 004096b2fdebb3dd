"""How busy a till is at a given moment: the daily rhythm of Bishkek's markets and malls.

`intensity(market, when)` is a number in [0, 1] (1 = the busiest moment of the week) that
scales a terminal's receipt rate. Bazaars open early (Dordoi at dawn, for the wholesale
buyers who drive in from the regions), malls late; both have a lunch peak and an evening
peak (after work, later in the malls); weekends are busier; everything is shut outside
opening hours. Kyrgyzstan has kept UTC+6 without summer time since 2005, so a fixed offset
is exact.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from pos_producer.simulator.catalog_data import Market

BISHKEK = timezone(timedelta(hours=6), "Asia/Bishkek")

_OPEN_RAMP_H = 0.75  # stalls fill up during the first three quarters of an hour
_CLOSE_RAMP_H = 0.5  # and empty during the last half hour


def _bump(h: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((h - centre) / width) ** 2)


def _weekday_factor(market: Market, weekday: int) -> float:
    if market.key == "dordoi" and weekday == 0:
        return 0.3  # Monday is Dordoi's quiet day: many containers stay shut
    if weekday >= 5:
        return 1.0 if market.kind == "mall" else 0.95
    return 0.7 if market.kind == "mall" else 0.8


def local_hour(when: datetime) -> float:
    local = when.astimezone(BISHKEK)
    return local.hour + local.minute / 60 + local.second / 3600


def is_open(market: Market, when: datetime) -> bool:
    return market.opens <= local_hour(when) < market.closes


def intensity(market: Market, when: datetime) -> float:
    """The share of the peak receipt rate at `when` (an aware datetime)."""
    h = local_hour(when)
    if not market.opens <= h < market.closes:
        return 0.0
    if market.kind == "mall":
        shape = 0.3 + 0.45 * _bump(h, 13.5, 1.2) + 0.7 * _bump(h, 19.0, 1.5)
    elif market.key == "dordoi":
        shape = 0.3 + 0.7 * _bump(h, 8.5, 1.3) + 0.35 * _bump(h, 12.5, 1.0)
    else:
        shape = 0.35 + 0.5 * _bump(h, 10.5, 1.2) + 0.45 * _bump(h, 13.0, 1.0) \
            + 0.55 * _bump(h, 17.5, 1.0)
    ramp = min(1.0, 0.3 + 0.7 * (h - market.opens) / _OPEN_RAMP_H,
               (market.closes - h) / _CLOSE_RAMP_H)
    weekday = when.astimezone(BISHKEK).weekday()
    return max(0.0, min(1.0, shape * ramp * _weekday_factor(market, weekday)))


def daily_curve(market: Market, day: datetime, *, step_minutes: int = 30) -> list[float]:
    """The intensity every `step_minutes` over the local day of `day` (for reports/tests)."""
    midnight = day.astimezone(BISHKEK).replace(hour=0, minute=0, second=0, microsecond=0)
    return [intensity(market, midnight + timedelta(minutes=m))
            for m in range(0, 24 * 60, step_minutes)]
