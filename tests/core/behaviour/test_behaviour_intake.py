"""POST /events against the real stack: Kafka topics read back and decoded with the
registry, Postgres dedup, opt-out, pseudonyms, malformed input."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from marketplace_core.accounts.erasure import erased_pseudonyms_since
from marketplace_core.behaviour.intake import EventIntake
from marketplace_core.db import transaction
from tests.core.auth_helpers import make_user

from .conftest import Topics, ago, end_offsets, event, read_topic


def _post(client: Any, events: list[Any], headers: dict[str, str] | None = None) -> Any:
    return client.post("/events", content=json.dumps({"events": events}).encode(),
                       headers={"content-type": "application/json", **(headers or {})})


def _statuses(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(r["status"], r.get("code")) for r in body["results"]]


def test_accepted_batch_lands_on_kafka_decoded_with_the_registry(
        core_api: Any, intake: EventIntake, event_topics: Topics) -> None:
    start = end_offsets(event_topics.raw)
    sent = [event(), event(event_type="search", target_type=None, target_id=None,
                           search_query="калпак ак", surface="search", position=None),
            event(event_type="route_built", target_type="shop", lat=42.874621, lon=74.569762,
                  surface="map")]
    r = _post(core_api, sent)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 3 and _statuses(body) == [("accepted", None)] * 3
    got = {rec.value["event_id"]: rec for rec in read_topic(event_topics.raw, start)}
    assert set(got) == {e["event_id"] for e in sent}
    for e in sent:
        rec = got[e["event_id"]]
        assert rec.key == e["session_id"].encode()
        assert rec.value["event_type"] == e["event_type"]
        assert rec.value["anonymous_id"] == e["anonymous_id"]
        assert rec.value["user_pseudo_id"] is None
        assert len(rec.value["fingerprint"]) == 64
        assert rec.value["occurred_at"] <= rec.value["received_at"]
    route = got[sent[2]["event_id"]].value
    assert str(route["lat"]) == "42.874621" and str(route["lon"]) == "74.569762"
    assert got[sent[1]["event_id"]].value["search_query"] == "калпак ак"


def test_bad_event_goes_to_bad_events_with_its_raw_bytes_and_code(
        core_api: Any, intake: EventIntake, event_topics: Topics) -> None:
    start_raw, start_bad = end_offsets(event_topics.raw), end_offsets(event_topics.bad)
    good = event()
    bad = event(event_type="teleport")
    wrong_target = event(event_type="add_to_cart", target_type="shop")
    # the core records chat_started itself when a conversation opens: an app's copy would
    # count the chat twice
    app_chat = event(event_type="chat_started", target_type="shop")
    # Hand-written body: odd spacing must come back byte for byte.
    bad_bytes = orjson.dumps(bad).replace(b'"event_type":', b'"event_type" :  ')
    body = (b'{"events": [' + orjson.dumps(good) + b",\n  " + bad_bytes + b" , "
            + orjson.dumps(wrong_target) + b", " + orjson.dumps(app_chat) + b"]}")
    r = core_api.post("/events", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 202, r.text
    assert _statuses(r.json()) == [("accepted", None), ("rejected", "UNKNOWN_EVENT_TYPE"),
                                   ("rejected", "INVALID_TARGET"),
                                   ("rejected", "SERVER_RECORDED_EVENT")]
    bads = {b.value["client_event_id"]: b.value for b in read_topic(event_topics.bad, start_bad)}
    assert set(bads) == {bad["event_id"], wrong_target["event_id"], app_chat["event_id"]}
    assert bads[bad["event_id"]]["raw_payload"] == bad_bytes
    assert bads[bad["event_id"]]["reason"] == "UNKNOWN_EVENT_TYPE"
    assert bads[wrong_target["event_id"]]["reason"] == "INVALID_TARGET"
    assert "add_to_cart" in bads[wrong_target["event_id"]]["detail"]
    raws = read_topic(event_topics.raw, start_raw)
    assert [x.value["event_id"] for x in raws] == [good["event_id"]]


def test_mixed_batch_reports_each_event(core_api: Any, intake: EventIntake) -> None:
    first = event()
    events = [
        first,
        event(event_id="not-a-uuid"),
        event(occurred_at=ago(days=8)),
        event(occurred_at=(datetime.now(UTC) + timedelta(minutes=6)).isoformat()),
        event(occurred_at=(datetime.now(UTC) + timedelta(minutes=4)).isoformat()),
        event(occurred_at=ago(days=6)),
        dict(first),                                   # the same event again, same batch
        event(session_id="x" * 65),
        event(search_query="a\u0000b"),
        event(lat=91.0, lon=10.0),
        event(lat=42.0),
        event(position=10**30),
        event(position=True),
        event(event_type="search", target_type=None, target_id=None),  # no query
        event(target_id=None),
        event(surface="moon"),
        "not an object",
        event(anonymous_id=None),                      # a guest without anonymous_id
        event(platform="symbian"),
        event(occurred_at="yesterday"),
        event(occurred_at="2026-12-01T10:00:00"),      # no offset
    ]
    r = _post(core_api, events)
    assert r.status_code == 202, r.text
    got = _statuses(r.json())
    assert got == [
        ("accepted", None), ("rejected", "INVALID_EVENT"),
        ("rejected", "EVENT_TIME_OUT_OF_RANGE"), ("rejected", "EVENT_TIME_OUT_OF_RANGE"),
        ("accepted", None), ("accepted", None), ("duplicate", None),
        *[("rejected", "INVALID_EVENT")] * 6,
        ("rejected", "INVALID_EVENT"), ("rejected", "INVALID_TARGET"),
        ("rejected", "INVALID_EVENT"), ("rejected", "INVALID_EVENT"),
        ("rejected", "INVALID_EVENT"), ("rejected", "INVALID_EVENT"),
        ("rejected", "INVALID_EVENT"), ("rejected", "INVALID_EVENT"),
    ], got
    body = r.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 1, 17)


def test_duplicates_by_id_and_by_fingerprint(core_api: Any, intake: EventIntake,
                                            event_topics: Topics) -> None:
    start = end_offsets(event_topics.raw)
    e = event()
    assert _statuses(_post(core_api, [e]).json()) == [("accepted", None)]
    # the same event id again (a retry), even with other content
    assert _statuses(_post(core_api, [dict(e, position=9)]).json()) == [("duplicate", None)]
    # the same content under a new id (an app resending)
    again = dict(e, event_id=str(uuid.uuid4()))
    assert _statuses(_post(core_api, [again]).json()) == [("duplicate", None)]
    ids = [x.value["event_id"] for x in read_topic(event_topics.raw, start)]
    assert ids == [e["event_id"]]


def test_same_content_outside_the_window_is_accepted(core_api: Any, event_topics: Topics
                                                      ) -> None:
    short = EventIntake(raw_topic=event_topics.raw, bad_topic=event_topics.bad,
                        window_seconds=3)
    core_api.app.state.events_intake = short
    try:
        assert _statuses(_post(core_api, [event()]).json()) == [("accepted", None)]  # warm
        e = event()
        assert _statuses(_post(core_api, [e]).json()) == [("accepted", None)]
        again = dict(e, event_id=str(uuid.uuid4()))
        assert _statuses(_post(core_api, [again]).json()) == [("duplicate", None)]
        time.sleep(3.5)
        third = dict(e, event_id=str(uuid.uuid4()))
        assert _statuses(_post(core_api, [third]).json()) == [("accepted", None)]
        # the event id itself is remembered much longer
        assert _statuses(_post(core_api, [e]).json()) == [("duplicate", None)]
    finally:
        core_api.app.state.events_intake = None
        short.close()


def test_signed_in_events_carry_a_pseudonym_never_the_account_id(
        core_api: Any, intake: EventIntake, event_topics: Topics) -> None:
    buyer = make_user(core_api, "buyer")
    start = end_offsets(event_topics.raw)
    e = event(anonymous_id=None, user_id=str(buyer.id))  # a user_id sent by a client: ignored
    r = _post(core_api, [e], buyer.headers)
    assert _statuses(r.json()) == [("accepted", None)], r.text
    (rec,) = read_topic(event_topics.raw, start)
    pseudo = rec.value["user_pseudo_id"]
    assert pseudo and len(pseudo) == 32
    assert str(buyer.id) not in orjson.dumps(rec.value, default=str).decode()
    assert buyer.id.hex not in orjson.dumps(rec.value, default=str).decode()

    # erasure: the pseudonym is orphaned and listed for the lake's erasure job
    before = datetime.now(UTC) - timedelta(seconds=5)
    r = core_api.post("/users/me/erase", headers=buyer.headers)
    assert r.status_code == 200 and r.json()["erased"] is True, r.text
    with transaction(core_api.app.state.pool) as conn:
        erased = erased_pseudonyms_since(conn, before)
    assert pseudo in [p for p, _ in erased]
    # later events get a new, unrelated pseudonym
    start = end_offsets(event_topics.raw)
    assert _statuses(_post(core_api, [event(anonymous_id=None)], buyer.headers).json()) == [
        ("accepted", None)]
    (rec,) = read_topic(event_topics.raw, start)
    assert rec.value["user_pseudo_id"] not in (None, pseudo)


def test_opted_out_user_produces_nothing(core_api: Any, intake: EventIntake,
                                         event_topics: Topics) -> None:
    buyer = make_user(core_api, "buyer")
    r = core_api.put("/users/me/privacy", json={"analytics_opt_out": True},
                     headers=buyer.headers)
    assert r.status_code == 200 and r.json() == {"analytics_opt_out": True}
    assert core_api.get("/users/me/privacy", headers=buyer.headers).json()[
        "analytics_opt_out"] is True
    start_raw, start_bad = end_offsets(event_topics.raw), end_offsets(event_topics.bad)
    r = _post(core_api, [event(), event(event_type="bogus")], buyer.headers)
    assert r.status_code == 202
    assert _statuses(r.json()) == [("dropped", "OPTED_OUT")] * 2
    assert read_topic(event_topics.raw, start_raw) == []
    assert read_topic(event_topics.bad, start_bad) == []
    core_api.put("/users/me/privacy", json={"analytics_opt_out": False}, headers=buyer.headers)
    assert _statuses(_post(core_api, [event()], buyer.headers).json()) == [("accepted", None)]


def test_malformed_batches_get_stable_codes_never_500(core_api: Any, intake: EventIntake
                                                      ) -> None:
    def post(body: bytes) -> Any:
        return core_api.post("/events", content=body,
                             headers={"content-type": "application/json"})

    cases = {
        b"": (400, "INVALID_BATCH"),
        b"not json": (400, "INVALID_BATCH"),
        b'{"events": [}': (400, "INVALID_BATCH"),
        b'{"events": []}\x00': (400, "INVALID_BATCH"),
        b"\xff\xfe{\x00}\x00": (400, "INVALID_BATCH"),
        b"[1, 2]": (422, "INVALID_BATCH"),
        b'"events"': (422, "INVALID_BATCH"),
        b'{"events": {"a": 1}}': (422, "INVALID_BATCH"),
        b'{"evts": []}': (422, "INVALID_BATCH"),
        b"[" * 100_000: (400, "INVALID_BATCH"),
        orjson.dumps({"events": [event() for _ in range(501)]}): (413, "BATCH_TOO_LARGE"),
        b'{"events": [' + b" " * (3 * 1024 * 1024) + b"]}": (413, "BATCH_TOO_LARGE"),
    }
    for body, (status, code) in cases.items():
        r = post(body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body[:40], r.text)
    assert post(b'{"events": []}').json()["results"] == []


def test_odd_encodings_sink_only_their_event(core_api: Any, intake: EventIntake,
                                             event_topics: Topics) -> None:
    start_bad = end_offsets(event_topics.bad)
    good, broken, huge = event(), event(), event()
    broken_bytes = orjson.dumps(broken).replace(b'"feed"', b'"fe\xffed"')
    huge_bytes = orjson.dumps(huge).replace(b'"position":3', b'"position":' + b"9" * 40)
    body = (b"\xef\xbb\xbf" + b'{"events":[' + orjson.dumps(good) + b"," + broken_bytes + b","
            + huge_bytes + b',{"event_id":"\\u0000"}]}')
    r = core_api.post("/events", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 202, r.text
    assert _statuses(r.json()) == [("accepted", None)] + [("rejected", "INVALID_EVENT")] * 3
    bads = {b.value["client_event_id"]: b.value for b in read_topic(event_topics.bad, start_bad)}
    assert bads[broken["event_id"]]["raw_payload"] == broken_bytes  # the invalid byte kept
    assert bads[huge["event_id"]]["raw_payload"] == huge_bytes
    # NaN / Infinity (not JSON, but some clients send them)
    r = core_api.post("/events", content=orjson.dumps({"events": [event()]}).replace(
        b'"position":3', b'"position":NaN'), headers={"content-type": "application/json"})
    assert _statuses(r.json()) == [("rejected", "INVALID_EVENT")]


def test_kafka_down_is_503_and_the_retry_is_not_a_duplicate(
        core_api: Any, event_topics: Topics) -> None:
    down = EventIntake(bootstrap="127.0.0.1:1", raw_topic=event_topics.raw,
                       bad_topic=event_topics.bad, delivery_timeout_s=1.0)
    e = event()
    core_api.app.state.events_intake = down
    try:
        r = _post(core_api, [e])
        assert r.status_code == 503 and r.json()["error"]["code"] == "EVENTS_UNAVAILABLE"
    finally:
        core_api.app.state.events_intake = None
        down.close()
    up = EventIntake(raw_topic=event_topics.raw, bad_topic=event_topics.bad)
    core_api.app.state.events_intake = up
    try:
        assert _statuses(_post(core_api, [e]).json()) == [("accepted", None)]
    finally:
        core_api.app.state.events_intake = None
        up.close()
