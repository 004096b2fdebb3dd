"""Property-based tests of the validated field types (platform_common/validated.py): every
kind of bad value is refused with its stable code, every good value round-trips exactly,
money stays an exact Decimal. Through the real error handler, as a client would see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from platform_common.http import install_error_handlers
from platform_common.money import MAX_AMOUNT, Money
from platform_common.validated import (
    EARLIEST,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    LATEST,
    DeviceId,
    Int32,
    Int64,
    Text,
    Timestamp,
    Token,
)

FAST = settings(max_examples=60, deadline=None)


class Body(BaseModel):
    text: Text | None = None
    small: Int32 | None = None
    big: Int64 | None = None
    at: Timestamp | None = None
    token: Token | None = None
    device_id: DeviceId | None = None
    amount: Money | None = None
    name: Text | None = Field(default=None, max_length=20)


app = FastAPI()
install_error_handlers(app)


@app.post("/echo")
def echo(body: Body) -> dict[str, Any]:
    return {"fields": body.model_dump(mode="json", exclude_unset=True),
            "amount_type": type(body.amount).__name__}


client = TestClient(app)


def _refused(field: str, value: Any) -> dict[str, Any]:
    response = client.post("/echo", json={field: value})
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    return error


def _code(field: str, value: Any) -> str | None:
    problems = _refused(field, value)["details"]
    assert [p["field"] for p in problems] == [f"body.{field}"], problems
    code: str | None = problems[0].get("code")
    return code


# --- text --------------------------------------------------------------------------------------

_controls = st.sampled_from([chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32),
                                              *range(0x7F, 0xA0))])
_good_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(
    "\t\n\r"), max_size=40)


@FAST
@given(before=_good_text, bad=_controls, after=_good_text)
def test_text_with_a_control_character_is_refused(before: str, bad: str, after: str) -> None:
    assert _code("text", before + bad + after) == "INVALID_TEXT"


@FAST
@given(value=_good_text)
def test_text_round_trips_exactly(value: str) -> None:
    response = client.post("/echo", json={"text": value})
    assert response.status_code == 200, response.text
    assert response.json()["fields"]["text"] == value


def test_lone_surrogate_is_refused() -> None:
    # JSON can carry "\ud800"; UTF-8 (and so PostgreSQL) cannot.
    response = client.post("/echo", content=b'{"text": "a\\ud800b"}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["code"] == "INVALID_TEXT"


def test_field_length_still_applies() -> None:
    assert _refused("name", "x" * 21)


# --- integers ----------------------------------------------------------------------------------

@FAST
@given(value=st.integers(min_value=INT32_MIN, max_value=INT32_MAX))
def test_int32_in_range_round_trips(value: int) -> None:
    assert client.post("/echo", json={"small": value}).json()["fields"]["small"] == value


@FAST
@given(value=st.integers(min_value=INT32_MAX + 1) | st.integers(max_value=INT32_MIN - 1))
def test_int32_out_of_range_is_refused(value: int) -> None:
    assert _code("small", value) == "NUMBER_OUT_OF_RANGE"


@FAST
@given(value=st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_int64_in_range_round_trips(value: int) -> None:
    assert client.post("/echo", json={"big": value}).json()["fields"]["big"] == value


@FAST
@given(value=st.integers(min_value=INT64_MAX + 1, max_value=10**40)
       | st.integers(min_value=-(10**40), max_value=INT64_MIN - 1))
def test_int64_out_of_range_is_refused(value: int) -> None:
    assert _code("big", value) == "NUMBER_OUT_OF_RANGE"


def test_booleans_and_fractions_are_not_counts() -> None:
    assert _code("small", True) == "NUMBER_OUT_OF_RANGE"
    assert _code("big", 2.5) == "NUMBER_OUT_OF_RANGE"


# --- timestamps --------------------------------------------------------------------------------

_zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m)))
_in_range = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30))


@FAST
@given(moment=_in_range, zone=_zones)
def test_timestamp_with_zone_round_trips(moment: datetime, zone: timezone) -> None:
    value = moment.replace(tzinfo=zone)
    sent = value.isoformat()
    echoed = client.post("/echo", json={"at": sent}).json()["fields"]["at"]
    assert datetime.fromisoformat(echoed.replace("Z", "+00:00")) == value


@FAST
@given(moment=_in_range)
def test_timestamp_without_zone_is_refused(moment: datetime) -> None:
    assert _code("at", moment.isoformat()) == "INVALID_TIMESTAMP"


@FAST
@given(moment=st.datetimes(max_value=datetime(1999, 12, 31))
       | st.datetimes(min_value=datetime(2100, 1, 2)))
def test_timestamp_out_of_range_is_refused(moment: datetime) -> None:
    assert _code("at", moment.replace(tzinfo=UTC).isoformat()) == "INVALID_TIMESTAMP"


@FAST
@given(ms=st.integers(min_value=int(EARLIEST.timestamp() * 1000),
                      max_value=int(LATEST.timestamp() * 1000) - 1))
def test_epoch_milliseconds_are_exact(ms: int) -> None:
    echoed = client.post("/echo", json={"at": ms}).json()["fields"]["at"]
    back = datetime.fromisoformat(echoed.replace("Z", "+00:00"))
    assert (back - datetime(1970, 1, 1, tzinfo=UTC)) == timedelta(milliseconds=ms)


@FAST
@given(ms=st.integers(min_value=int(LATEST.timestamp() * 1000), max_value=2**70)
       | st.integers(max_value=int(EARLIEST.timestamp() * 1000) - 1, min_value=-(2**70)))
def test_epoch_milliseconds_out_of_range_are_refused(ms: int) -> None:
    assert _code("at", ms) == "INVALID_TIMESTAMP"


# --- tokens, signatures, device ids ------------------------------------------------------------

@FAST
@given(value=st.text("ABCDEFabcdef0123456789+/=_-.~", min_size=1, max_size=200))
def test_ascii_tokens_round_trip(value: str) -> None:
    assert client.post("/echo", json={"token": value}).json()["fields"]["token"] == value


@FAST
@given(value=st.text(min_size=1, max_size=60).filter(
    lambda s: any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-.~"
                  for c in s)))
def test_tokens_in_other_encodings_are_refused(value: str) -> None:
    assert _code("token", value) == "INVALID_TOKEN"


def test_overlong_token_is_refused() -> None:
    assert _code("token", "a" * 1025) == "INVALID_TOKEN"


@FAST
@given(number=st.integers(min_value=0, max_value=10**12 - 1), width=st.integers(4, 12))
def test_device_ids_round_trip(number: int, width: int) -> None:
    value = f"POS-{number:0{width}d}"
    if len(value) > 16:
        return
    assert client.post("/echo", json={"device_id": value}).json()["fields"]["device_id"] == value


@FAST
@given(digits=st.integers(min_value=13, max_value=28))
def test_device_ids_that_would_overflow_the_counter_are_refused(digits: int) -> None:
    # The next free terminal number is max + 1 as a bigint: POS-99999999999999999999 once
    # broke registration for every shop.
    assert _code("device_id", "POS-" + "9" * digits) == "INVALID_DEVICE_ID"


# --- money -------------------------------------------------------------------------------------

_amounts = st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=2,
                       allow_nan=False, allow_infinity=False)


@FAST
@given(amount=_amounts)
def test_money_stays_an_exact_decimal(amount: Decimal) -> None:
    body = client.post("/echo", json={"amount": f"{amount:f}"}).json()
    assert body["amount_type"] == "Decimal"
    assert Decimal(body["fields"]["amount"]) == amount
    assert body["fields"]["amount"] == f"{amount.quantize(Decimal('0.01')):f}"


@FAST
@given(value=st.one_of(
    st.decimals(min_value=MAX_AMOUNT + Decimal("0.01"), allow_nan=False,
                allow_infinity=False, places=2).map(lambda d: f"{d:f}"),
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False,
                allow_infinity=False).filter(lambda d: d != d.quantize(Decimal("0.01")))
    .map(lambda d: f"{d:f}"),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "abc", ""]),
))
def test_bad_money_is_refused(value: Any) -> None:
    assert _code("amount", value) == "INVALID_MONEY"


def test_types_validate_outside_http_too() -> None:
    # The POS Kafka path validates the same models without FastAPI.
    try:
        Body.model_validate({"text": "a\x00b"})
    except PydanticValidationError as exc:
        assert exc.errors()[0]["type"] == "INVALID_TEXT"
    else:
        raise AssertionError("NUL text was accepted")
