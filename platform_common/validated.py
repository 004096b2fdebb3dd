"""Validated field types for every request that reaches the platform: one type per kind of
field, shared by the core API, the serving API and the POS paths (issue 11 §3).

Each type refuses, at the boundary, a value the database, the Avro records or a later
request could not handle, so bad input answers 422 instead of a 500 deep in a handler:

    Text       no NUL, no control characters (tab, newline, carriage return allowed), no
               lone surrogates: PostgreSQL cannot store NUL and UTF-8 cannot encode a
               surrogate, both crashed the insert                           INVALID_TEXT
    Int32      within int4 / Avro int                                        NUMBER_OUT_OF_RANGE
    Int64      within int8 / Avro long                                       NUMBER_OUT_OF_RANGE
    Timestamp  ISO-8601 with a time zone (or epoch milliseconds), 2000–2100: a naive time is
               ambiguous, and Avro's timestamp-millis and `timestamptz` overflow
               far outside                                                   INVALID_TIMESTAMP
    Token      bounded ASCII of base64/base64url/hex/JWT characters (signatures, tokens,
               keys): anything else cannot be a valid one                    INVALID_TOKEN
    DeviceId   POS- and 4 to 12 digits: the next free terminal number is max + 1 in a
               bigint, so a longer id broke registration for every shop    INVALID_DEVICE_ID
    Latitude, Longitude  exact decimals within ±90 / ±180                    INVALID_GEO
    Measure    a finite decimal within ±10^9 (km, seconds)                   NUMBER_OUT_OF_RANGE
    Number     a finite float (JSON NaN/Infinity parse in Python, not in jsonb) NUMBER_OUT_OF_RANGE
    Money      (platform_common.money) KGS decimal string, 2 places, ≤ 9,999,999,999.99

Ids are `uuid.UUID` (pydantic refuses anything else). A refusal is the usual 422
INVALID_REQUEST whose `details[]` entry names the field and carries the kind's stable `code`
(the error `type` below). Every type marks its JSON schema with `x-validated: <kind>`, which
is how tests/unit/test_validated_coverage.py checks that no write endpoint skips them.

    class ShopIn(BaseModel):
        name: Text = Field(max_length=300)
        stock_qty: Int32 = Field(ge=0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from platform_common.errors import ErrorCode

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
TOKEN_MAX_LENGTH = 1024
DEVICE_ID_PATTERN = r"^POS-[0-9]{4,12}$"

# C0 controls but tab, newline and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
_TOKEN = re.compile(r"[A-Za-z0-9+/=_.~-]+")
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _refuse(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


@dataclass(frozen=True)
class _Marked:
    """Adds `x-validated: <kind>` (and extra keywords) to the field's JSON schema."""

    kind: str
    extra: tuple[tuple[str, Any], ...] = ()

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler.resolve_ref_schema(handler(schema))
        json_schema.setdefault("x-validated", self.kind)
        for key, value in self.extra:
            json_schema.setdefault(key, value)
        return json_schema


# --- text --------------------------------------------------------------------------------------

def check_text(value: str) -> str:
    if _CONTROL.search(value):
        raise _refuse(ErrorCode.INVALID_TEXT, "text must not contain control characters or NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") decoded from JSON
        raise _refuse(ErrorCode.INVALID_TEXT, "text must be valid Unicode") from None
    return value


Text = Annotated[str, AfterValidator(check_text),
                 _Marked("text", (("pattern", _TEXT_PATTERN),))]
"""Free text people type (names, addresses, captions): any Unicode but control characters."""


# --- integers ----------------------------------------------------------------------------------

def _integer(value: Any) -> Any:
    # JSON true/false and 2.5 are not counts; pydantic's lax mode would take them.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise _refuse(ErrorCode.NUMBER_OUT_OF_RANGE, "must be a whole number")
    return value


def _range(low: int, high: int, kind: str) -> Any:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise _refuse(ErrorCode.NUMBER_OUT_OF_RANGE,
                          f"must be between {low} and {high} ({kind})")
        return value
    return check


Int32 = Annotated[int, BeforeValidator(_integer),
                  AfterValidator(_range(INT32_MIN, INT32_MAX, "int4 / Avro int")),
                  _Marked("int32", (("minimum", INT32_MIN), ("maximum", INT32_MAX)))]
"""A count or quantity stored in `integer` and sent as Avro `int`."""

Int64 = Annotated[int, BeforeValidator(_integer),
                  AfterValidator(_range(INT64_MIN, INT64_MAX, "int8 / Avro long")),
                  _Marked("int64", (("minimum", INT64_MIN), ("maximum", INT64_MAX)))]
"""A counter or sequence number stored in `bigint` and sent as Avro `long`."""

AvroInt = Int32
AvroLong = Int64


# --- timestamps --------------------------------------------------------------------------------

def _timestamp_in(value: Any) -> Any:
    # Epoch milliseconds as Avro's timestamp-millis carries them, exactly.
    if isinstance(value, bool):
        raise _refuse(ErrorCode.INVALID_TIMESTAMP, "a timestamp is not a boolean")
    if isinstance(value, int):
        if not int(EARLIEST.timestamp() * 1000) <= value < int(LATEST.timestamp() * 1000):
            raise _refuse(ErrorCode.INVALID_TIMESTAMP,
                          "epoch milliseconds must fall between 2000 and 2100")
        return _EPOCH + timedelta(milliseconds=value)
    if isinstance(value, float):
        raise _refuse(ErrorCode.INVALID_TIMESTAMP,
                      "a timestamp is ISO-8601 with a time zone or integer epoch milliseconds")
    return value


def check_timestamp(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise _refuse(ErrorCode.INVALID_TIMESTAMP,
                      "a timestamp needs a time zone (e.g. 2030-06-01T10:00:00Z)")
    if not EARLIEST <= value < LATEST:
        raise _refuse(ErrorCode.INVALID_TIMESTAMP, "a timestamp must fall between 2000 and 2100")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_timestamp_in), AfterValidator(check_timestamp),
                      _Marked("timestamp")]
"""An instant with a time zone, 2000-01-01 to 2100-01-01 (or epoch milliseconds)."""


# --- tokens and signatures ---------------------------------------------------------------------

def check_token(value: str) -> str:
    if not value or len(value) > TOKEN_MAX_LENGTH or not _TOKEN.fullmatch(value):
        raise _refuse(ErrorCode.INVALID_TOKEN,
                      "must be a base64, base64url or hex string of at most "
                      f"{TOKEN_MAX_LENGTH} characters")
    return value


Token = Annotated[str, AfterValidator(check_token),
                  _Marked("token", (("pattern", r"^[A-Za-z0-9+/=_.~-]+$"),
                                    ("maxLength", TOKEN_MAX_LENGTH)))]
"""A signature, a token or a key: bounded ASCII of base64/base64url/hex/JWT characters."""


# --- POS terminal ids --------------------------------------------------------------------------

def check_device_id(value: str) -> str:
    if not _DEVICE_ID.fullmatch(value):
        raise _refuse(ErrorCode.INVALID_DEVICE_ID,
                      "device id must be POS- and 4 to 12 digits (POS-0001)")
    return value


DeviceId = Annotated[str, AfterValidator(check_device_id),
                     _Marked("device_id", (("pattern", DEVICE_ID_PATTERN),
                                           ("maxLength", 16)))]
"""A terminal's printed id: POS- and 4 to 12 digits."""


# --- decimals and floats -----------------------------------------------------------------------

def _finite_decimal(value: Any) -> Any:
    # JSON floats would lose digits on the way; NaN/Infinity (which Python's JSON reader
    # accepts) and 1e999999 cannot be stored in a numeric column or Avro decimal.
    if isinstance(value, bool):
        raise _refuse(ErrorCode.NUMBER_OUT_OF_RANGE, "must be a number")
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError, TypeError):
        return value  # pydantic's own decimal parsing reports it
    if not number.is_finite():
        raise _refuse(ErrorCode.NUMBER_OUT_OF_RANGE, "must be a finite number")
    return number


def _decimal_range(low: Decimal, high: Decimal, places: int, code: str) -> Any:
    def check(value: Decimal) -> Decimal:
        if not low <= value <= high:
            raise _refuse(code, f"must be between {low} and {high}")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise _refuse(code, f"at most {places} decimal places")
        return value
    return check


def _bounded_decimal(low: str, high: str, places: int, kind: str, code: str) -> Any:
    lo, hi = Decimal(low), Decimal(high)
    return Annotated[Decimal, BeforeValidator(_finite_decimal),
                     AfterValidator(_decimal_range(lo, hi, places, code)),
                     _Marked(kind)]


Latitude = _bounded_decimal("-90", "90", 8, "latitude", ErrorCode.INVALID_GEO)
"""Degrees north, -90 to 90, at most 8 places (numeric(10, 8)-safe), exact Decimal."""
Longitude = _bounded_decimal("-180", "180", 8, "longitude", ErrorCode.INVALID_GEO)
"""Degrees east, -180 to 180, at most 8 places, exact Decimal."""
Measure = _bounded_decimal("-1000000000", "1000000000", 8, "measure",
                           ErrorCode.NUMBER_OUT_OF_RANGE)
"""A finite decimal measure (km, seconds, degrees the domain checks): within ±10^9, at most
8 places."""

FLOAT_LIMIT = 1e15


def _finite_float(value: float) -> float:
    if not math.isfinite(value) or abs(value) > FLOAT_LIMIT:
        raise _refuse(ErrorCode.NUMBER_OUT_OF_RANGE,
                      f"must be a finite number within ±{FLOAT_LIMIT:g}")
    return value


Number = Annotated[float, AfterValidator(_finite_float),
                   _Marked("number", (("minimum", -FLOAT_LIMIT), ("maximum", FLOAT_LIMIT)))]
"""A finite float (JSON NaN/Infinity are refused: jsonb and Avro cannot carry them)."""

VALIDATED_KINDS = ("text", "int32", "int64", "timestamp", "token", "device_id", "latitude",
                   "longitude", "measure", "number", "money")
"""The `x-validated` marks (Money adds its own in platform_common.money)."""

FIELD_CODES = frozenset({ErrorCode.INVALID_TEXT, ErrorCode.NUMBER_OUT_OF_RANGE,
                         ErrorCode.INVALID_TIMESTAMP, ErrorCode.INVALID_TOKEN,
                         ErrorCode.INVALID_DEVICE_ID, ErrorCode.INVALID_GEO,
                         ErrorCode.INVALID_MONEY})
"""The stable codes a validated type puts in a 422's `details[].code`."""
