"""The replay tool: a rule relaxed through the settings lets a bad event through, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.settings import get_settings
from marketplace_core.behaviour.intake import EventIntake
from marketplace_core.behaviour.replay import replay

from .conftest import Topics, ago, end_offsets, event, read_topic


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def test_replay_after_a_fix_produces_once_and_never_twice(
        core_api: Any, core_dsn: str, intake: EventIntake, event_topics: Topics,
        settings_env: pytest.MonkeyPatch) -> None:
    old = event(occurred_at=ago(days=8))          # an app that was offline for 8 days
    unknown = event(event_type="teleport")
    r = core_api.post("/events", content=json.dumps({"events": [old, unknown]}).encode(),
                      headers={"content-type": "application/json"})
    assert [x["code"] for x in r.json()["results"]] == ["EVENT_TIME_OUT_OF_RANGE",
                                                        "UNKNOWN_EVENT_TYPE"]
    topics: dict[str, Any] = {"bad_topic": event_topics.bad, "raw_topic": event_topics.raw,
                              "dsn": core_dsn}

    def on_raw(since: dict[int, int]) -> list[str]:
        return [x.value["event_id"] for x in read_topic(event_topics.raw, since)
                if x.value["event_id"] == old["event_id"]]

    start = end_offsets(event_topics.raw)
    # the rules have not changed: nothing to replay yet
    stats = replay(reason="EVENT_TIME_OUT_OF_RANGE", **topics)
    assert stats.replayed == 0 and stats.still_invalid.get("EVENT_TIME_OUT_OF_RANGE", 0) >= 1

    # the fix: accept events up to 30 days old
    settings_env.setenv("EVENTS_MAX_PAST_SECONDS", str(30 * 86400))
    get_settings.cache_clear()
    dry = replay(reason="EVENT_TIME_OUT_OF_RANGE", dry_run=True, **topics)
    assert dry.replayed >= 1 and on_raw(start) == []

    first = replay(reason="EVENT_TIME_OUT_OF_RANGE", **topics)
    assert first.replayed >= 1  # (an event 6 minutes ahead, from another test, stays out)
    assert on_raw(start) == [old["event_id"]]
    (rec,) = [x.value for x in read_topic(event_topics.raw, start)
              if x.value["event_id"] == old["event_id"]]
    assert rec["session_id"] == old["session_id"] and rec["anonymous_id"] == old["anonymous_id"]

    second = replay(reason="EVENT_TIME_OUT_OF_RANGE", **topics)
    assert second.replayed == 0 and second.already_replayed >= first.replayed
    # the unknown type is still refused, and nothing was sent twice
    everything = replay(**topics)
    assert everything.replayed == 0 and everything.still_invalid.get("UNKNOWN_EVENT_TYPE", 0) >= 1
    assert on_raw(start) == [old["event_id"]]
