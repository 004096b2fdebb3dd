"""`POST /events`: behavioural events from the apps (marketplace_core.behaviour).

The body is read raw (bounded by EVENTS_MAX_BODY_BYTES) and handled off the event loop;
per event the answer says accepted, duplicate, rejected (with its code) or dropped
(OPTED_OUT). A 202 means every accepted and every rejected event is on Kafka (acks=all).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from infra.settings import get_settings
from marketplace_core.api.auth import BearerCredentials, optional_user
from marketplace_core.api.errors import error_body
from marketplace_core.api.schemas.behaviour import EventsResponse, event_batch_schema
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.behaviour.batch import BatchError
from marketplace_core.behaviour.intake import EventIntake, Unavailable
from marketplace_core.errors import ErrorCode

router = APIRouter(tags=["events"])


def intake_of(request: Request) -> EventIntake:
    """The process's intake (tests may put their own in app.state first)."""
    state = request.app.state
    intake: EventIntake | None = getattr(state, "events_intake", None)
    if intake is None:
        intake = EventIntake()
        state.events_intake = intake
    return intake


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/events", status_code=202, response_model=EventsResponse,
    summary="Send a batch of behavioural events (views, clicks, searches, routes, ...)",
    description=(
        "A JSON body `{\"events\": [...]}` of at most EVENTS_MAX_BATCH (500) events. Each "
        "event is judged alone: the answer lists per event `accepted`, `duplicate` (same "
        "event_id, or the same content within the dedup window), `rejected` with its code "
        "(kept in analytics.bad_events for replay) or `dropped` (OPTED_OUT: the signed-in "
        "account opted out of analytics). Sign in with a bearer token to attribute events "
        "to the account (pseudonymised; the account id never leaves the core); guests send "
        "`anonymous_id`. 202 means the events are durable in Kafka. A body that is not "
        "JSON is 400 INVALID_BATCH, JSON of the wrong shape 422 INVALID_BATCH, too many "
        "events or bytes 413 BATCH_TOO_LARGE, Kafka unreachable 503 EVENTS_UNAVAILABLE."),
    responses=error_responses(400, 401, 413, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": event_batch_schema(get_settings().events_max_batch)}}}},
)
async def post_events(request: Request, credentials: BearerCredentials) -> Response:
    # Guests (most events) skip the thread hop of the sync `OptionalUser` dependency; a
    # bearer token is checked exactly as `optional_user` does.
    user = (await run_in_threadpool(optional_user, request, credentials)
            if credentials is not None else None)
    intake = intake_of(request)
    limit = get_settings().events_max_body_bytes
    try:
        body = await _read_body(request, limit)
    except _TooLarge:
        return JSONResponse(error_body(ErrorCode.BATCH_TOO_LARGE,
                                       f"the body is larger than {limit} bytes"), 413)
    try:
        answer = await run_in_threadpool(intake.handle, request.app.state.pool, body,
                                         user.id if user else None)
    except BatchError as exc:
        return JSONResponse(error_body(exc.code, exc.message), exc.status)
    except Unavailable:
        return JSONResponse(error_body(ErrorCode.EVENTS_UNAVAILABLE,
                                       "events cannot be stored right now; retry later"),
                            503, headers={"Retry-After": "5"})
    return Response(answer, status_code=202, media_type="application/json")
