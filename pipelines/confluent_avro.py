"""Decoding Confluent-framed Avro (magic byte 0, 4-byte big-endian schema id, Avro body)
inside Spark, with every failure kept as a row with a reason code instead of dropped, and
the schema-resolution check that decides which registered versions a job can read."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro

from schemas.compatibility import can_read  # noqa: F401  (moved; callers use it from here)

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
