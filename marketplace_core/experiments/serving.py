"""An experiment's arm for one API request, with its exposure recorded.

The unit is the signed-in account's pseudonym (cached per process by accounts.pseudonyms:
no query after the account's first request) or, for a guest, the app's session id (the
`X-Session-Id` header, the same id the app sends on its events); a request with neither
gets no arm (the control experience, no exposure).

An account that opted out of analytics is kept out of experiments: it sees the control
and no exposure is published. That is checked once per account, experiment and day (the
exposure log remembers the decision), so an opt-out takes effect in experiments by the
next day at the latest, and the feed's hot path runs no extra query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from marketplace_core.accounts import pseudonyms
from marketplace_core.db import Connection
from marketplace_core.experiments.assignment import assign_in
from marketplace_core.experiments.exposures import EXCLUDED, Exposure, ExposureLog
from marketplace_core.experiments.registry import UnitKind, by_key

SESSION_HEADER = "X-Session-Id"
SESSION_ID_MAX = 64  # as POST /events' session_id


@dataclass(frozen=True)
class Assignment:
    experiment_key: str
    arm: str
    unit_kind: UnitKind
    unit: str


def request_unit(conn: Connection, user_id: UUID | None, session_id: str | None
                 ) -> tuple[UnitKind, str] | None:
    if user_id is not None:
        return UnitKind.USER, pseudonyms.pseudonym(conn, user_id)
    if session_id:
        return UnitKind.SESSION, session_id
    return None


def arm_for_request(conn: Connection, exposures: ExposureLog | None, key: str, *,
                    user_id: UUID | None, session_id: str | None, surface: str,
                    context: dict[str, Any] | None = None, at: datetime | None = None
                    ) -> Assignment | None:
    """The request's arm of experiment `key` (None: no arm, serve the control), and its
    exposure queued when it is the unit's first of the day in this process."""
    experiment = by_key(key)
    at = at or datetime.now(UTC)
    if not experiment.is_live(at):
        return None  # before any query: a stopped experiment costs nothing
    unit = request_unit(conn, user_id, session_id)
    if unit is None:
        return None
    kind, unit_id = unit
    arm = assign_in(experiment, unit_id, at=at, kind=kind)
    if arm is None:
        return None
    if exposures is not None:
        decision = exposures.decision(key, unit_id, at)
        if decision == EXCLUDED:
            return None
        if decision is None:
            if user_id is not None and pseudonyms.is_opted_out(conn, user_id):
                exposures.exclude(key, unit_id, at)
                return None
            exposures.record(Exposure(key, arm, kind, unit_id, surface, at, context))
    return Assignment(key, arm, kind, unit_id)
