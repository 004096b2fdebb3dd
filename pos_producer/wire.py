"""Avro bodies and Confluent framing, split so a till can record offline.

The outbox stores each event's schemaless Avro body, encoded with the schema this build of
the terminal was written against (the repo's `.avsc`). Only at send time is it framed with
the registry's id for exactly that schema (magic byte 0 + 4-byte big-endian id + body):
byte for byte what confluent-kafka's AvroSerializer writes with auto-register off, but the
registry is not needed to ring up a sale.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from functools import cache
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas.topics import Topic, schema_str

MAGIC = b"\x00"


@cache
def _parsed(topic: Topic) -> Any:
    return parse_schema(json.loads(schema_str(topic)))


def avro_body(topic: Topic, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, _parsed(topic), record)
    return buf.getvalue()


def read_body(topic: Topic, body: bytes) -> dict[str, Any]:
    """Decode a body written by `avro_body` (UUIDs, Decimals and datetimes come back)."""
    record = schemaless_reader(io.BytesIO(body), _parsed(topic), None)
    assert isinstance(record, dict)
    return record


def frame(schema_id: int, body: bytes) -> bytes:
    return MAGIC + struct.pack(">I", schema_id) + body


def unframe(value: bytes) -> tuple[int, bytes]:
    """(schema id, Avro body) of a Confluent-framed value; ValueError if it is not one."""
    if len(value) < 5 or value[:1] != MAGIC:
        raise ValueError("not a Confluent-framed Avro value")
    (schema_id,) = struct.unpack(">I", value[1:5])
    return schema_id, value[5:]


def schema_fingerprint(topic: Topic) -> str:
    """Short hash of this build's schema text (a cached schema id is only reused for it)."""
    return hashlib.sha256(schema_str(topic).encode()).hexdigest()[:16]


def registered_schema_id(client: SchemaRegistryClient, topic: Topic) -> int:
    """The id the platform registered for this build's schema of `topic` (never registers:
    a terminal must not introduce a schema version). Raises if it is not registered."""
    registered = client.lookup_schema(topic.subject, Schema(schema_str(topic), "AVRO"))
    if registered.schema_id is None:
        raise LookupError(f"{topic.subject}: the registry returned no id")
    return int(registered.schema_id)
