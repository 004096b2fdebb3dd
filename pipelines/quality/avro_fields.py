"""The top-level fields of a topic's Avro schema, as the silver layer types them.

Silver has one column per top-level field of the topic's `.avsc`, under the same name:
uuid -> string, decimal(p,s) -> decimal(p,s), timestamp-millis -> timestamp; a field is
nullable when its type is a union with "null".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from schemas.topics import SCHEMA_DIR, Topic

MONEY_SCALE = 2  # KGS with tyiyn: every Avro decimal of scale 2 is money


@dataclass(frozen=True)
class AvroField:
    name: str
    nullable: bool
    kind: str  # string, long, int, boolean, bytes, double, float, decimal, timestamp, array...
    precision: int | None = None
    scale: int | None = None

    @property
    def is_money(self) -> bool:
        return self.kind == "decimal" and self.scale == MONEY_SCALE

    @property
    def is_complex(self) -> bool:
        return self.kind in ("array", "map", "record")


def _kind(avro_type: Any) -> tuple[str, int | None, int | None]:
    if isinstance(avro_type, str):
        return avro_type, None, None
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "decimal":
            return "decimal", int(avro_type["precision"]), int(avro_type.get("scale", 0))
        if logical in ("timestamp-millis", "timestamp-micros"):
            return "timestamp", None, None
        if logical == "date":
            return "date", None, None
        if logical == "uuid":
            return "string", None, None
        return str(avro_type["type"]), None, None
    raise ValueError(f"unsupported Avro type {avro_type!r}")


def parse_field(spec: dict[str, Any]) -> AvroField:
    avro_type = spec["type"]
    nullable = False
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        nullable = len(branches) < len(avro_type)
        if len(branches) != 1:
            raise ValueError(f"field {spec['name']!r}: only [null, T] unions are supported")
        avro_type = branches[0]
    kind, precision, scale = _kind(avro_type)
    return AvroField(spec["name"], nullable, kind, precision, scale)


@cache
def top_level_fields(topic: Topic) -> tuple[AvroField, ...]:
    schema = json.loads((SCHEMA_DIR / topic.schema_file).read_text())
    return tuple(parse_field(f) for f in schema["fields"])
