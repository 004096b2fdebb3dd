"""Every experiment, declared once: key, arms with weights (per cent, summing to 100), a
salt, a traffic share, a window, the unit it randomises and a status.

The unit is a signed-in account's pseudonym (accounts.pseudonyms: what the lake knows the
account by) or, for a guest, the app's session id. Changing an experiment's salt or arms
re-randomises everyone: start a new key instead (`explore_ranking_v3`), so the lake never
mixes two assignments under one key. Raising `traffic` only adds units: nobody already in
the experiment changes arm (see assignment.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"      # declared, assigns nobody yet
    RUNNING = "running"  # assigns units between start and end
    STOPPED = "stopped"  # over (or halted): assigns nobody, everyone sees the control


class UnitKind(StrEnum):
    USER = "user"        # signed-in account's pseudonym
    SESSION = "session"  # guest's app session id (X-Session-Id)


@dataclass(frozen=True)
class Arm:
    name: str
    weight: int  # per cent of the experiment's traffic
    description: str = ""


@dataclass(frozen=True)
class Experiment:
    key: str
    arms: tuple[Arm, ...]
    salt: str
    start: datetime
    end: datetime | None
    status: Status
    traffic: int = 100  # per cent of units that enter the experiment at all
    units: tuple[UnitKind, ...] = (UnitKind.USER, UnitKind.SESSION)
    surface: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        names = [a.name for a in self.arms]
        if len(self.arms) < 2 or len(set(names)) != len(names):
            raise ValueError(f"{self.key}: at least two arms with distinct names")
        if any(a.weight <= 0 for a in self.arms) or sum(a.weight for a in self.arms) != 100:
            raise ValueError(f"{self.key}: arm weights must be positive and sum to 100")
        if not 0 < self.traffic <= 100:
            raise ValueError(f"{self.key}: traffic is a share in (0, 100] per cent")
        if not self.salt:
            raise ValueError(f"{self.key}: a salt is required")
        if self.start.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise ValueError(f"{self.key}: start and end are aware datetimes (UTC)")

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    def is_live(self, at: datetime) -> bool:
        return (self.status is Status.RUNNING and self.start <= at
                and (self.end is None or at < self.end))


CONTROL = "control"

# The Explore ranking test: the control is today's ranking (social/ranking.py); the
# treatment doubles the weight of the lake's CTR part in the stored score (10 -> 20):
# does ranking by what people actually tap bring more taps and add-to-carts from Explore?
EXPLORE_RANKING_V2 = Experiment(
    key="explore_ranking_v2",
    arms=(Arm(CONTROL, 50, "today's Explore ranking"),
          Arm("ctr_x2", 50, "score + 10·ctr: the CTR part weighs 20 instead of 10")),
    salt="4f1c9a2e-explore-v2",
    start=datetime(2026, 12, 1, tzinfo=UTC),
    end=None,
    status=Status.RUNNING,
    surface="explore",
    description="Explore ranking with a heavier CTR weight against today's ranking.",
)

# The ad-creative test (issue 12 §4): the ad serving picks a campaign's alternative
# creative for units in `variant_b` and stamps ads.events' `experiment_arm` with
# arm_label(key, arm). Declared, not started: the serving turns it on by status.
ADS_CREATIVE_V1 = Experiment(
    key="ads_creative_v1",
    arms=(Arm(CONTROL, 50, "the campaign's main creative"),
          Arm("variant_b", 50, "the campaign's alternative creative")),
    salt="b7d3e5a1-ads-creative-v1",
    start=datetime(2026, 12, 1, tzinfo=UTC),
    end=None,
    status=Status.DRAFT,
    surface="ad",
    description="A campaign's alternative creative against its main one.",
)

EXPERIMENTS: tuple[Experiment, ...] = (EXPLORE_RANKING_V2, ADS_CREATIVE_V1)

_BY_KEY = {e.key: e for e in EXPERIMENTS}
if len(_BY_KEY) != len(EXPERIMENTS):
    raise ValueError("experiment keys must be unique")


def by_key(key: str) -> Experiment:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no experiment named {key!r}") from None


def all_arm_names() -> list[str]:
    """Every declared arm name (the readout's accepted values)."""
    return sorted({a.name for e in EXPERIMENTS for a in e.arms})
