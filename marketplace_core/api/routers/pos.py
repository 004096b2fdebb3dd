"""POS terminals over HTTP: device credentials for sellers, and the device endpoints
`POST /pos/heartbeat` and `POST /pos/sales` for terminals that cannot speak Kafka. Both
feed the same apply logic as the Kafka ingest (marketplace_core.pos.ingest).

Device endpoints authenticate with the terminal's own token (`Authorization: Bearer`),
are rate-limited per device (token bucket in Postgres, 429 RATE_LIMITED with Retry-After) and sign
each body with the device secret. Refused events are kept as dead letters (table
`pos_dead_letters`, published to pos.dead_letter by the ingest consumer).

The older `POST /pos/devices/{id}/heartbeat` (shared internal token, terminal named by the
path) stays for admins and tests; it must only be reachable from the platform's network.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from infra.settings import get_settings
from marketplace_core import audit
from marketplace_core.accounts import tenancy
from marketplace_core.accounts.ownership import assert_can_manage_shop
from marketplace_core.api.auth import SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.errors import error_body
from marketplace_core.api.schemas.common import ErrorResponse, error_responses
from marketplace_core.api.schemas.orders import (
    HeartbeatRequest,
    HeartbeatResponse,
    ShopEligibilityResponse,
)
from marketplace_core.api.schemas.pos import (
    DeviceCredentialsResponse,
    DeviceHeartbeatRequest,
    DeviceHeartbeatResponse,
    DeviceRegistrationRequest,
    DeviceResponse,
    TillEventBatch,
    TillEventIn,
    TillEventResult,
    TillEventsResponse,
)
from marketplace_core.db import Connection, transaction
from marketplace_core.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from marketplace_core.orders import eligibility
from marketplace_core.pos import credentials, ingest
from marketplace_core.pos import service as pos
from marketplace_core.pos.ratelimit import take_http
from platform_common.validated import DEVICE_ID_PATTERN

router = APIRouter(tags=["pos"])

_token_header = APIKeyHeader(
    name="X-Internal-Token", auto_error=False,
    description="The platform's internal token (until POS terminals get their own)")


def require_internal_token(token: Annotated[str | None, Depends(_token_header)]) -> None:
    expected = get_settings().internal_token
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise UnauthorizedError(ErrorCode.INVALID_DEVICE_TOKEN, "missing or wrong device token")


DeviceId = Annotated[str, Path(pattern=DEVICE_ID_PATTERN, max_length=16,
                               examples=["POS-0001"])]


@router.post(
    "/pos/devices/{device_id}/heartbeat", response_model=HeartbeatResponse,
    summary="A POS terminal reports it is alive; returns the shop's buy eligibility",
    description="Call every minute or so. Freshness is judged on the server's clock; "
                "`sent_at` only reports the terminal's clock skew. A retired terminal is "
                "refused (409 DEVICE_RETIRED); an inactive one is recorded but does not "
                "make its shop eligible.",
    dependencies=[Depends(require_internal_token)],
    responses=error_responses(401, 404, 409, 422),
)
def heartbeat(device_id: DeviceId, body: HeartbeatRequest, pool: Pool) -> HeartbeatResponse:
    now = datetime.now(UTC)
    with transaction(pool) as conn:
        device = pos.record_heartbeat(conn, device_id, firmware_version=body.firmware, now=now)
        state = eligibility.shop_eligibility(conn, device.shop_id, now)
    assert device.last_heartbeat_at is not None
    skew = (body.sent_at - now).total_seconds() if body.sent_at else None
    return HeartbeatResponse(
        device_id=device.id, shop_id=device.shop_id, status=device.status,
        last_heartbeat_at=device.last_heartbeat_at, clock_skew_seconds=skew,
        eligibility=ShopEligibilityResponse.of(state))


# --- device credentials (sellers and admins) -----------------------------------------------------

ShopId = Annotated[UUID, Path()]


@router.post(
    "/shops/{shop_id}/pos/devices", status_code=201, response_model=DeviceCredentialsResponse,
    summary="Register a POS terminal in a shop and issue its token and secret",
    description="The token and the secret are shown only in this answer. Without "
                "`device_id` the next free POS-NNNN is chosen. Audited.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def register_device(shop_id: ShopId, body: DeviceRegistrationRequest, user: SellerOrAdmin,
                    pool: Pool) -> DeviceCredentialsResponse:
    with transaction(pool) as conn:
        assert_can_manage_shop(conn, user, shop_id)
        issued = credentials.register_with_credentials(
            conn, shop_id, device_id=body.device_id, firmware_version=body.firmware_version)
        audit.record(conn, user, "pos_device.register", "pos_device", issued.device_id,
                     {"shop_id": shop_id})
    return DeviceCredentialsResponse(device_id=issued.device_id, shop_id=issued.shop_id,
                                     token=issued.token, secret=issued.secret)


@router.post(
    "/pos/devices/{device_id}/rotate-credentials", response_model=DeviceCredentialsResponse,
    summary="Issue a new token and secret for a terminal (the old ones stop working)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def rotate_credentials(device_id: DeviceId, user: SellerOrAdmin,
                       pool: Pool) -> DeviceCredentialsResponse:
    with transaction(pool) as conn:
        device = pos.get_device(conn, device_id)
        if device is None:
            raise NotFoundError(ErrorCode.DEVICE_NOT_FOUND, f"device {device_id} is not registered")
        assert_can_manage_shop(conn, user, device.shop_id)
        issued = credentials.issue_credentials(conn, device_id)
        audit.record(conn, user, "pos_device.rotate_credentials", "pos_device", device_id)
    return DeviceCredentialsResponse(device_id=issued.device_id, shop_id=issued.shop_id,
                                     token=issued.token, secret=issued.secret)


@router.get(
    "/shops/{shop_id}/pos/devices", response_model=list[DeviceResponse],
    summary="A shop's terminals: status, connectivity, last heartbeat and ingest counters",
    responses=error_responses(401, 403, 404, 422),
)
def list_devices(shop_id: ShopId, user: SellerOrAdmin, pool: Pool) -> list[DeviceResponse]:
    with transaction(pool) as conn:
        assert_can_manage_shop(conn, user, shop_id)
        with tenancy.seller_scope(conn, user):  # row-level security: the second wall
            return [DeviceResponse.of(d) for d in pos.device_overviews(conn, shop_id)]


# --- the terminal's own endpoints -----------------------------------------------------------------

_device_bearer = HTTPBearer(
    auto_error=False, scheme_name="DeviceToken",
    description="The terminal's token from POST /shops/{shop_id}/pos/devices")
DeviceToken = Annotated[HTTPAuthorizationCredentials | None, Depends(_device_bearer)]

_RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: {"model": ErrorResponse,
                                                         "description": "Too many requests "
                                                         "from this device (Retry-After)"}}
_TRANSIENT = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
_ATTEMPTS = 3
T = TypeVar("T")


def _rate_limited(pool: ConnectionPool, token: str | None) -> JSONResponse | None:
    """429 if the device's bucket is empty. The bucket is in Postgres (every API process
    shares it), keyed by the token's digest, taken in its own short transaction before the
    request's work so that the bucket row is not held while the request runs."""
    if not token:
        return None
    with transaction(pool) as conn:
        wait = take_http(conn, token)
    if wait <= 0:
        return None
    return JSONResponse(
        error_body(ErrorCode.RATE_LIMITED, "too many requests from this device; retry later"),
        status_code=429, headers={"Retry-After": str(max(1, math.ceil(wait)))})


@contextmanager
def _device_transaction(pool: ConnectionPool, token: str | None) -> Iterator[Connection]:
    with transaction(pool) as conn:
        credentials.authenticate_token(conn, token)
        yield conn


def _with_retries(work: Callable[[], T]) -> T:
    # Till events lock device and variant rows; a deadlock with an order or the consumer
    # is retried whole (the transaction rolled back, nothing half-applied).
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return work()
        except _TRANSIENT:
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")


_STATUS_CLASS: dict[str, type[DomainError]] = {
    ErrorCode.DUPLICATE_SALE: ConflictError,
    ErrorCode.DEVICE_RETIRED: ConflictError,
    ErrorCode.DEVICE_NOT_FOUND: NotFoundError,
    ErrorCode.INVALID_DEVICE_TOKEN: UnauthorizedError,
    ErrorCode.INVALID_SIGNATURE: UnauthorizedError,
}


def _refusal(outcome: ingest.Outcome) -> DomainError:
    """The error answering a one-event request that was not applied: 409 DUPLICATE_SALE,
    422 INVALID_ITEM / INVALID_POS_EVENT, 401 INVALID_SIGNATURE / INVALID_DEVICE_TOKEN."""
    code = outcome.code or ErrorCode.INVALID_POS_EVENT
    error = _STATUS_CLASS.get(code, ValidationError)(code, outcome.message or code)
    error.details = {"receipt_number": outcome.receipt_number,  # type: ignore[attr-defined]
                     "reason": outcome.reason,
                     "dead_letter_id": str(outcome.dead_letter_id)
                     if outcome.dead_letter_id else None}
    return error


@router.post(
    "/pos/heartbeat", response_model=DeviceHeartbeatResponse,
    summary="A terminal reports it is alive (every 30 s), with its stock snapshot",
    description="Authenticated by the device token; the body is signed with the device "
                "secret. Stamps the server's receive time (never backwards), makes the "
                "terminal pos_active and refreshes the shop's buy eligibility. The stock "
                "snapshot is diagnostics: stock moves come from till events.",
    responses={**error_responses(401, 404, 409, 422), **_RATE_LIMITED},
)
def device_heartbeat(body: DeviceHeartbeatRequest, bearer: DeviceToken, pool: Pool) -> Any:
    token = bearer.credentials if bearer else None
    if (limited := _rate_limited(pool, token)) is not None:
        return limited
    record = body.record()
    origin = ingest.Origin("http", body.model_dump_json(exclude_unset=True).encode())

    def work() -> tuple[ingest.Outcome, DeviceHeartbeatResponse | None]:
        now = datetime.now(UTC)
        with _device_transaction(pool, token) as conn:
            outcome = ingest.apply_heartbeat(conn, record, token=token, origin=origin, now=now)
            if outcome.status != "applied":
                return outcome, None
            device = pos.device_overview(conn, body.device_id)
            assert device is not None
            state = eligibility.shop_eligibility(conn, device.shop_id, now)
            return outcome, DeviceHeartbeatResponse(
                device_id=device.id, shop_id=device.shop_id,
                connectivity=device.connectivity,  # type: ignore[arg-type]
                last_heartbeat_at=device.last_heartbeat_at,
                eligibility=ShopEligibilityResponse.of(state))

    outcome, answer = _with_retries(work)
    if answer is None:  # the refusal's dead letter is committed; now say no
        raise _refusal(outcome)
    return answer


@router.post(
    "/pos/sales", response_model=TillEventsResponse,
    summary="Upload till events (sales, refunds, voids, discounts, cash) — one or a batch",
    description="Body: one event, or `{\"events\": [...]}` with up to 500 (the backlog of "
                "a terminal that was offline). Idempotent on (device_id, receipt_number). "
                "A request with one event answers its refusal as an error: 409 "
                "DUPLICATE_SALE, 422 INVALID_ITEM (a bad item: unknown variant, qty < 1, "
                "price differing from the online price) or INVALID_POS_EVENT, 401 "
                "INVALID_SIGNATURE. A batch always answers 200 with a status per event "
                "(applied | duplicate | rejected, with its code): each event is applied or "
                "refused on its own, in the order given.",
    responses={**error_responses(401, 404, 409, 422), **_RATE_LIMITED},
)
def upload_sales(body: TillEventIn | TillEventBatch, bearer: DeviceToken, pool: Pool) -> Any:
    token = bearer.credentials if bearer else None
    if (limited := _rate_limited(pool, token)) is not None:
        return limited
    events = body.events if isinstance(body, TillEventBatch) else [body]
    prepared = [(e.receipt_number, e.record(),
                 ingest.Origin("http", e.model_dump_json(exclude_unset=True).encode()))
                for e in events]

    def work() -> list[ingest.Outcome]:
        now = datetime.now(UTC)
        with _device_transaction(pool, token) as conn:
            return [ingest.apply_till_event(conn, record, token=token, origin=origin, now=now)
                    for _, record, origin in prepared]

    outcomes = _with_retries(work)
    if len(outcomes) == 1 and outcomes[0].status != "applied":
        raise _refusal(outcomes[0])
    results = [TillEventResult(receipt_number=receipt, status=o.status, code=o.code,
                               reason=o.reason, message=o.message)
               for (receipt, _, _), o in zip(prepared, outcomes, strict=True)]
    return TillEventsResponse(
        applied=sum(o.status == "applied" for o in outcomes),
        duplicates=sum(o.status == "duplicate" for o in outcomes),
        rejected=sum(o.status == "rejected" for o in outcomes), results=results)
