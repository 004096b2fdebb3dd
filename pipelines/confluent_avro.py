"""Decoding Confluent-framed Avro (magic byte 0, 4-byte big-endian schema id, Avro body)
inside Spark, with every failure kept as a row with a reason code instead of dropped, and
the schema-resolution check that decides which registered versions a job can read."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastavro.schema import expand_schema
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro

# Reason codes written to `decode_error`; staging models drop such rows, nothing is lost.
NOT_CONFLUENT_FRAMED = "NOT_CONFLUENT_FRAMED"
UNKNOWN_SCHEMA_ID = "UNKNOWN_SCHEMA_ID"
AVRO_DECODE_FAILED = "AVRO_DECODE_FAILED"


def framed(value: Column) -> Column:
    return value.isNotNull() & (F.length(value) > 5) & (F.substring(value, 1, 1) == F.lit(b"\x00"))


def schema_id(value: Column) -> Column:
    return F.when(
        framed(value), F.conv(F.hex(F.substring(value, 2, 4)), 16, 10).cast("int")
    )


def decode(
    value: Column, writer_schemas: Mapping[int, str], reader_schema: str | None = None
) -> tuple[Column, Column]:
    """(decoded struct or null, decode_error or null) for a Kafka `value` column.

    `writer_schemas` maps each schema id this job can read to the schema it was written
    with. With `reader_schema`, every version is resolved onto it by Avro's rules (fields
    the writer lacked take the reader's defaults), so all decode to the same struct; check
    them with `can_read` first. Without it, the writer schemas must all be the same.
    """
    sid = schema_id(value)
    body = F.expr("substring(value, 6)")
    decoded: Column = F.lit(None)
    options = {"mode": "PERMISSIVE"}
    if reader_schema is not None:
        options["avroSchema"] = reader_schema
    for i, (sch_id, schema) in enumerate(writer_schemas.items()):
        attempt = from_avro(body, schema, options)
        decoded = (
            F.when(sid == sch_id, attempt) if i == 0 else decoded.when(sid == sch_id, attempt)
        )
    known = sid.isin(list(writer_schemas))
    error = (
        F.when(~framed(value), F.lit(NOT_CONFLUENT_FRAMED))
        .when(~known, F.lit(UNKNOWN_SCHEMA_ID))
        .when(decoded.isNull(), F.lit(AVRO_DECODE_FAILED))
    )
    return decoded, error


# --- can a reader schema read data written with a writer schema? ----------------------
# Avro's schema resolution (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution),
# the part our schemas use: records by field name with defaults for missing fields, unions,
# arrays, maps, enums, fixed, primitive promotions and decimal scale.

_PROMOTIONS = {
    ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
    ("long", "double"), ("float", "double"), ("string", "bytes"), ("bytes", "string"),
}


def can_read(reader_schema: str, writer_schema: str) -> bool:
    """True if data written with `writer_schema` decodes with `reader_schema`."""
    reader = expand_schema(json.loads(reader_schema))
    writer = expand_schema(json.loads(writer_schema))
    return _readable(reader, writer)


def _node(schema: Any) -> Any:
    if isinstance(schema, str):
        return {"type": schema}
    if isinstance(schema, dict) and isinstance(schema.get("type"), dict | list):
        return _node(schema["type"])
    return schema


def _short(name: str | None) -> str | None:
    return name.rsplit(".", 1)[-1] if name else None


def _readable(reader: Any, writer: Any) -> bool:
    reader, writer = _node(reader), _node(writer)
    if isinstance(writer, list):  # every branch the writer may have chosen must resolve
        return all(_readable(reader, branch) for branch in writer)
    if isinstance(reader, list):
        return any(_readable(branch, writer) for branch in reader)
    rtype, wtype = reader["type"], writer["type"]
    if rtype != wtype:
        return (wtype, rtype) in _PROMOTIONS
    if rtype == "record":
        if _short(reader.get("name")) != _short(writer.get("name")):
            return False
        written = {f["name"]: f for f in writer["fields"]}
        for field in reader["fields"]:
            source = written.get(field["name"]) or next(
                (written[a] for a in field.get("aliases", []) if a in written), None)
            if source is None:
                if "default" not in field:
                    return False
            elif not _readable(field["type"], source["type"]):
                return False
        return True
    if rtype == "array":
        return _readable(reader["items"], writer["items"])
    if rtype == "map":
        return _readable(reader["values"], writer["values"])
    if rtype == "enum":
        return _short(reader.get("name")) == _short(writer.get("name")) and (
            set(writer["symbols"]) <= set(reader["symbols"]) or "default" in reader)
    if rtype == "fixed" and reader.get("size") != writer.get("size"):
        return False
    if reader.get("logicalType") == "decimal" or writer.get("logicalType") == "decimal":
        return (reader.get("logicalType") == writer.get("logicalType")
                and reader.get("scale", 0) == writer.get("scale", 0)
                and reader.get("precision", 0) >= writer.get("precision", 0))
    return True
