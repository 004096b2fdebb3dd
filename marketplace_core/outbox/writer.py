"""Write an event into the outbox, in the caller's transaction.

The value is validated against the topic's Avro schema and encoded here, at write time:
a record that does not fit its schema fails the business transaction that produced it
(and is fixed in code), instead of blocking the relay later. The relay then only frames
the stored bytes with the registry's schema id.

Rule for callers: emit *after* the entity row is written or locked in the same
transaction. Two transactions that change one entity then serialise on that row, so the
outbox ids (and the published order) of one entity follow its commit order.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID, uuid4

import fastavro
from fastavro.validation import ValidationError as AvroValidationError
from fastavro.validation import validate

from marketplace_core.db import Connection
from schemas.topics import Topic, schema_str

ENVELOPE_FIELDS = ("event_id", "event_type", "occurred_at")


class OutboxSchemaError(Exception):
    """A record does not fit its topic's schema: a bug in the emitting code."""


@cache
def parsed_schema(topic: Topic) -> Any:
    return fastavro.parse_schema(json.loads(schema_str(topic)))


@cache
def schema_fingerprint(topic: Topic) -> str:
    return hashlib.sha256(schema_str(topic).encode()).hexdigest()[:16]


def encode(topic: Topic, record: dict[str, Any]) -> bytes:
    """Schemaless Avro binary of `record` (raises OutboxSchemaError if it does not fit)."""
    schema = parsed_schema(topic)
    buffer = io.BytesIO()
    try:
        fastavro.schemaless_writer(buffer, schema, record)
    except Exception as exc:  # the writer refuses what does not fit, without naming it
        raise OutboxSchemaError(
            f"{topic.name}: record does not fit its schema: {_why(record, schema, exc)}"
        ) from exc
    return buffer.getvalue()


def _why(record: dict[str, Any], schema: Any, exc: Exception) -> str:
    """The validator's account of a record the writer refused (it names the field); run
    only on failure, as it costs as much as the encoding itself."""
    try:
        validate(record, schema, raise_errors=True)
    except AvroValidationError as invalid:
        return str(invalid)
    except Exception as other:  # e.g. a decimal of the wrong scale
        return f"{type(other).__name__}: {other}"
    return f"{type(exc).__name__}: {exc}"


def decode(topic: Topic, payload: bytes) -> dict[str, Any]:
    """The record back from its stored bytes (tests, debugging)."""
    return fastavro.schemaless_reader(io.BytesIO(payload), parsed_schema(topic), None)  # type: ignore[return-value]


def emit(
    conn: Connection,
    topic: Topic,
    *,
    entity_type: str,
    entity_id: UUID | str,
    event_type: str,
    record: dict[str, Any],
    occurred_at: datetime | None = None,
) -> UUID:
    """Append one change event to the outbox; returns its event id.

    `record` holds the schema's fields except the envelope (event_id, event_type,
    occurred_at), which are filled here. UUIDs may be given as UUID objects; money as
    Decimal; timestamps as aware datetimes.
    """
    event_id = uuid4()
    occurred = occurred_at or datetime.now(UTC)
    full = {
        "event_id": str(event_id),
        "event_type": event_type,
        "occurred_at": occurred,
        **{k: _plain(v) for k, v in record.items()},
    }
    payload = encode(topic, full)
    row = (event_id, topic.name, entity_type, str(entity_id), event_type,
           schema_fingerprint(topic), payload)
    pending = _batches.get(id(conn))
    if pending is not None:
        pending.append(row)
    else:
        conn.execute(
            """insert into outbox (event_id, topic, entity_type, entity_id, event_type,
                                   schema_fingerprint, payload)
               values (%s, %s, %s, %s, %s, %s, %s)""", row)
    return event_id


# Connections inside `batched` -> the rows they emitted so far (a connection serves one
# thread at a time, so its id is a safe key while the block runs).
_batches: dict[int, list[tuple[Any, ...]]] = {}


@contextmanager
def batched(conn: Connection) -> Iterator[None]:
    """Within the block, `emit` on this connection collects its rows and the block's end
    writes them with one INSERT, in emit order (a hot path's several events cost one
    statement). Use it inside the transaction; an exception discards the rows with it.
    Nested blocks leave the writing to the outermost."""
    key = id(conn)
    if key in _batches:
        yield
        return
    rows = _batches[key] = []
    try:
        yield
    finally:
        del _batches[key]
    if rows:
        columns = list(zip(*rows, strict=True))
        conn.execute(
            """insert into outbox (event_id, topic, entity_type, entity_id, event_type,
                                   schema_fingerprint, payload)
               select * from unnest(%s::uuid[], %s::text[], %s::text[], %s::text[],
                                    %s::text[], %s::text[], %s::bytea[])""",
            [list(c) for c in columns])


def _plain(value: Any) -> Any:
    # fastavro's uuid logical type wants str; accept UUID objects for convenience.
    if isinstance(value, UUID):
        return str(value)
    return value
