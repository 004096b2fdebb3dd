"""A compiled Avro encoder for flat records (the intake's hot path).

fastavro's `schemaless_writer` walks the schema for every record (about 10x the cost of
the rest of the intake per event). `compile_encoder(topic)` reads the topic's `.avsc`
once and generates one straight-line Python function for it: strings (uuid too), ints
and longs (timestamp-millis too), bytes decimals, and `["null", X]` unions of those.
A schema with anything else (nested records, arrays, maps, enums, ...) gets fastavro
instead. The bytes are identical to fastavro's (tests/core/behaviour checks it).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import fastavro

from marketplace_core.outbox.writer import parsed_schema
from schemas.topics import Topic, schema_str

EncodeFn = Callable[[dict[str, Any], bytes], bytes]


class Unsupported(ValueError):
    pass


def _varint(var: str) -> list[str]:
    # zigzag, then base-128 little-endian groups (Avro int and long)
    return [f"n = ({var} << 1) ^ ({var} >> 63)",
            "while n & ~0x7F:",
            "    out.append((n & 0x7F) | 0x80)",
            "    n >>= 7",
            "out.append(n)"]


def _value(t: Any, var: str) -> list[str]:
    if isinstance(t, dict):
        base, logical = t.get("type"), t.get("logicalType")
        if base == "string" and logical in (None, "uuid"):
            t = "string"
        elif base in ("int", "long") and logical in (None, "timestamp-millis", "date"):
            t = base
        elif base == "bytes" and logical == "decimal":
            return [f"u = int({var}.scaleb({int(t.get('scale', 0))}))",
                    "b = u.to_bytes((u.bit_length() + 8) // 8, 'big', signed=True)",
                    "ln = len(b)", *_varint("ln"), "out += b"]
        else:
            raise Unsupported(str(t))
    if t == "string":
        return [f"b = {var}.encode()", "ln = len(b)", *_varint("ln"), "out += b"]
    if t == "bytes":
        return [f"ln = len({var})", *_varint("ln"), f"out += {var}"]
    if t in ("int", "long"):
        return [f"v = {var}", *_varint("v")]
    raise Unsupported(str(t))


def generate(schema: dict[str, Any]) -> str:
    """The source of `encode(record, head) -> head + Avro body` for a flat record schema."""
    if schema.get("type") != "record":
        raise Unsupported("not a record")
    lines = ["def encode(r, head):", "    out = bytearray(head)"]
    for i, f in enumerate(schema["fields"]):
        t, var = f["type"], f"x{i}"
        lines.append(f"    {var} = r[{f['name']!r}]")
        if isinstance(t, list):
            if len(t) != 2 or t[0] != "null":
                raise Unsupported(f"union {t}")
            lines += [f"    if {var} is None:", "        out.append(0)", "    else:",
                      "        out.append(2)"]
            lines += ["        " + c for c in _value(t[1], var)]
        else:
            lines += ["    " + c for c in _value(t, var)]
    lines.append("    return bytes(out)")
    return "\n".join(lines)


def compile_encoder(topic: Topic) -> EncodeFn:
    """The fastest correct encoder for `topic`: generated code, or fastavro."""
    try:
        namespace: dict[str, Any] = {}
        exec(generate(json.loads(schema_str(topic))), namespace)
        fn: EncodeFn = namespace["encode"]
        return fn
    except Unsupported:
        schema = parsed_schema(topic)

        def slow(record: dict[str, Any], head: bytes) -> bytes:
            buf = io.BytesIO()
            buf.write(head)
            fastavro.schemaless_writer(buf, schema, record)
            return buf.getvalue()

        return slow
