"""The compiled encoder writes exactly what fastavro writes (unit test, no services)."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from marketplace_core.behaviour.avro import Unsupported, compile_encoder, generate
from marketplace_core.behaviour.intake import BadEvent, bad_event_record
from marketplace_core.outbox.writer import parsed_schema
from schemas.topics import ANALYTICS_BAD_EVENTS, ANALYTICS_RAW


def _fastavro(topic: Any, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema(topic), record)
    return buf.getvalue()


def _event(**over: Any) -> dict[str, Any]:
    base = {"event_id": str(uuid.uuid4()), "event_type": "route_built",
            "occurred_at": 1_764_000_000_000, "received_at": 1_764_000_000_321,
            "target_type": "shop", "target_id": str(uuid.uuid4()), "session_id": "s-1",
            "user_pseudo_id": "ab" * 16, "anonymous_id": None, "surface": "map", "position": 0,
            "search_query": "калпак ак", "lat": Decimal("42.874621"),
            "lon": Decimal("-74.569762"), "platform": "ios", "app_version": "3.2.0",
            "utm_source": "instagram", "utm_medium": None, "utm_campaign": None,
            "referrer": "https://t.me/x", "fingerprint": "f" * 64}
    base.update(over)
    return base


@pytest.mark.parametrize("over", [
    {}, {"position": None, "lat": None, "lon": None}, {"position": 63}, {"position": 64},
    {"position": 1_000_000}, {"occurred_at": 0}, {"lat": Decimal("-90.000000"),
                                                 "lon": Decimal("180.000000")},
    {"lat": Decimal("0.000000"), "lon": Decimal("0.000001")}, {"search_query": "ё" * 200},
])
def test_behaviour_event_bytes_match_fastavro(over: dict[str, Any]) -> None:
    record = _event(**over)
    assert compile_encoder(ANALYTICS_RAW)(record, b"") == _fastavro(ANALYTICS_RAW, record)
    assert compile_encoder(ANALYTICS_RAW)(record, b"\x00abcd")[:5] == b"\x00abcd"


def test_bad_event_bytes_match_fastavro() -> None:
    bad = BadEvent(3, "INVALID_EVENT", "position: must be an integer", None,
                   b'{"event_id":"\xff"}')
    record = bad_event_record(bad, 1_764_000_000_000, None)
    assert compile_encoder(ANALYTICS_BAD_EVENTS)(record, b"") == _fastavro(
        ANALYTICS_BAD_EVENTS, record)


def test_unsupported_shapes_are_refused() -> None:
    with pytest.raises(Unsupported):
        generate({"type": "record", "name": "R", "fields": [
            {"name": "a", "type": {"type": "array", "items": "string"}}]})
