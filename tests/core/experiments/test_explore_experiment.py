"""The Explore ranking experiment end to end in the core: the viewer's arm changes the
order (treatment) or leaves it alone (control), exposures reach Kafka once per unit and
day in the registry's schema, opted-out accounts stay out, and Kafka being down never
fails the feed."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from confluent_kafka.schema_registry import Schema

from marketplace_core.accounts import pseudonyms
from marketplace_core.db import transaction
from marketplace_core.experiments import assign
from marketplace_core.experiments.exposures import Exposure, ExposureLog
from marketplace_core.experiments.registry import EXPLORE_RANKING_V2, UnitKind
from marketplace_core.social.ranking import ExploreIndex, ExploreScore, replace_explore_scores
from schemas.registry import registry_client
from schemas.topics import EXPERIMENTS_EXPOSURES, schema_str
from tests.core.auth_helpers import make_user
from tests.core.behaviour.conftest import end_offsets, read_topic
from tests.core.social.social_helpers import make_post
from tests.stand_in_topics import stand_in_topic

KEY = EXPLORE_RANKING_V2.key


@pytest.fixture(scope="module")
def exposure_topic() -> Iterator[str]:
    """A fresh topic standing in for experiments.exposures, the schema registered."""
    with stand_in_topic(EXPERIMENTS_EXPOSURES, "experiments.exposures") as name:
        yield name


@pytest.fixture
def exposures(core_api: Any, exposure_topic: str) -> Iterator[ExposureLog]:
    made = ExposureLog(topic=exposure_topic)
    core_api.app.state.exposure_log = made
    core_api.app.state.explore_index = ExploreIndex(check_every_s=0, cold_every_s=0)
    yield made
    core_api.app.state.exposure_log = None
    made.close()


def _session(arm: str) -> str:
    """A fresh guest session id that the experiment puts in `arm`."""
    while True:
        sid = f"s-{secrets.token_hex(8)}"
        if assign(KEY, sid, kind=UnitKind.SESSION) == arm:
            return sid


@pytest.fixture
def posts(core_api: Any) -> dict[str, str]:
    """a > b > c by the lake's score; b has by far the best CTR: with the CTR weighing
    double (ctr_x2: score + 10·ctr) b overtakes a."""
    author = make_user(core_api, "buyer")
    ids = {name: make_post(core_api, author)["id"] for name in "abc"}
    parts = {"a": (3.0, 0.05), "b": (2.9, 0.2), "c": (2.0, 0.01)}
    with transaction(core_api.app.state.pool) as conn:
        replace_explore_scores(conn, [
            ExploreScore(UUID(ids[n]), score, {"engagement": score - 10 * ctr, "ctr": ctr})
            for n, (score, ctr) in parts.items()])
    return ids


def _page(client: Any, headers: dict[str, str], **params: Any) -> tuple[list[str], Any]:
    r = client.get("/feed/explore", params={"limit": 3, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]], r


def test_the_arm_changes_the_order_for_the_treatment_only(
        core_api: Any, exposures: ExposureLog, posts: dict[str, str]) -> None:
    a, b, c = posts["a"], posts["b"], posts["c"]
    control_order = [a, b, c]
    nobody, r = _page(core_api, {})  # a guest without a session: no arm
    assert nobody == control_order and "x-experiment-arm" not in r.headers
    ctl, r = _page(core_api, {"X-Session-Id": _session("control")})
    assert ctl == control_order
    assert r.headers["x-experiment-arm"] == f"{KEY}:control"
    trt, r = _page(core_api, {"X-Session-Id": _session("ctr_x2")}, explain=1)
    assert trt == [b, a, c]
    assert r.headers["x-experiment-arm"] == f"{KEY}:ctr_x2"
    top = r.json()["items"][0]
    assert top["score_parts"]["variant"] == pytest.approx(2.0)  # 10 × ctr 0.2
    assert top["score"] == pytest.approx(4.9)
    # a signed-in viewer is randomised by pseudonym, whatever session it sends
    for _ in range(40):
        user = make_user(core_api, "buyer")
        with transaction(core_api.app.state.pool) as conn:
            arm = assign(KEY, pseudonyms.pseudonym(conn, user.id), kind=UnitKind.USER)
        if arm == "ctr_x2":
            break
    else:
        pytest.fail("no account in the treatment among 40")
    mine, r = _page(core_api, {**user.headers, "X-Session-Id": _session("control")})
    assert mine == [b, a, c] and r.headers["x-experiment-arm"] == f"{KEY}:ctr_x2"
    # the cursor walks the arm's own order
    first, r = _page(core_api, {"X-Session-Id": _session("ctr_x2")}, limit=1)
    assert first == [b]


def test_exposures_once_per_unit_and_day_in_the_registry_schema(
        core_api: Any, exposures: ExposureLog, exposure_topic: str,
        posts: dict[str, str]) -> None:
    since = end_offsets(exposure_topic)
    treated, control = _session("ctr_x2"), _session("control")
    for _ in range(3):
        _page(core_api, {"X-Session-Id": treated})
    _page(core_api, {"X-Session-Id": control}, tags="plov", near="42.87,74.6")
    user = make_user(core_api, "buyer")
    _page(core_api, user.headers)
    _page(core_api, user.headers)
    assert exposures.flush(30)
    assert exposures.stats["failed"] == 0
    records = read_topic(exposure_topic, since)
    assert len(records) == 3, [r.value for r in records]
    by_unit = {r.value["session_id"] or r.value["user_pseudo_id"]: r for r in records}
    with transaction(core_api.app.state.pool) as conn:
        pid = pseudonyms.pseudonym(conn, user.id)
    assert set(by_unit) == {treated, control, pid}
    registered = registry_client().lookup_schema(
        EXPERIMENTS_EXPOSURES.subject, Schema(schema_str(EXPERIMENTS_EXPOSURES), "AVRO"))
    assert {r.schema_id for r in records} == {registered.schema_id}
    t = by_unit[treated]
    assert t.key == treated.encode()
    assert t.value["experiment_key"] == KEY and t.value["arm"] == "ctr_x2"
    assert t.value["unit_type"] == "session" and t.value["user_pseudo_id"] is None
    assert t.value["surface"] == "explore"
    assert orjson.loads(t.value["context"]) == {"first_page": True, "limit": 3,
                                                "near": False, "tags": 0}
    assert orjson.loads(by_unit[control].value["context"])["tags"] == 1
    u = by_unit[pid].value
    assert u["unit_type"] == "user" and u["session_id"] is None
    assert u["arm"] == assign(KEY, pid)
    assert abs(u["occurred_at"] - datetime.now(UTC)) < timedelta(minutes=5)
    # another day is another exposure; the same day is not
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert exposures.record(Exposure(KEY, "ctr_x2", UnitKind.SESSION, treated, "explore",
                                     tomorrow))
    assert not exposures.record(Exposure(KEY, "ctr_x2", UnitKind.SESSION, treated,
                                         "explore", tomorrow + timedelta(minutes=1)))
    assert exposures.flush(30)
    assert len(read_topic(exposure_topic, since)) == 4


def test_an_opted_out_account_sees_the_control_and_is_not_exposed(
        core_api: Any, exposures: ExposureLog, exposure_topic: str,
        posts: dict[str, str]) -> None:
    since = end_offsets(exposure_topic)
    for _ in range(40):
        user = make_user(core_api, "buyer")
        with transaction(core_api.app.state.pool) as conn:
            pid = pseudonyms.pseudonym(conn, user.id)
            if assign(KEY, pid) == "ctr_x2":
                pseudonyms.set_opt_out(conn, user.id, True)
                break
    ids, r = _page(core_api, user.headers)
    assert ids == [posts["a"], posts["b"], posts["c"]]
    assert "x-experiment-arm" not in r.headers
    assert exposures.flush(30)
    assert read_topic(exposure_topic, since) == []


def test_kafka_down_never_fails_the_feed(core_api: Any, posts: dict[str, str]) -> None:
    broken = ExposureLog(topic="test.experiments.nowhere", bootstrap="127.0.0.1:1",
                         delivery_timeout_s=1.0)
    core_api.app.state.exposure_log = broken
    core_api.app.state.explore_index = ExploreIndex(check_every_s=0, cold_every_s=0)
    try:
        sid = _session("ctr_x2")
        started = time.monotonic()
        ids, _r = _page(core_api, {"X-Session-Id": sid})
        assert time.monotonic() - started < 2.0  # not waiting for Kafka
        assert ids == [posts["b"], posts["a"], posts["c"]]
        assert broken.flush(30)
        assert broken.stats["failed"] == 1 and broken.stats["published"] == 0
        # forgotten: the unit's next page tries again
        _page(core_api, {"X-Session-Id": sid})
        assert broken.flush(30)
        assert broken.stats["failed"] == 2
    finally:
        core_api.app.state.exposure_log = None
        broken.close(timeout=1)


def test_a_malformed_session_header_is_a_clear_422(core_api: Any) -> None:
    for bad in ("x" * 65, "has space"):
        r = core_api.get("/feed/explore", headers={"X-Session-Id": bad})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "INVALID_REQUEST"
