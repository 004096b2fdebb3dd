"""The error envelope of every HTTP API of the platform, and the handlers that produce it.

Every error leaves an API as `{"error": {"code": ..., "message": ...[, "details": ...]}}`.
Errors raised as `DomainError` keep their stable code; the HTTP status follows the error's
class. Malformed input is 422 INVALID_REQUEST with `details: [{field, problem}]` (the
same body from both APIs), never a 500; an unexpected failure is 500 INTERNAL_ERROR with
no internals in the body (they go to the log).

    app = FastAPI(...)
    install_error_handlers(app, logger="serving_api")
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from platform_common.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthorizedError,
    ValidationError,
)

STATUS_BY_CLASS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (ValidationError, 422),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (RateLimitedError, 429),
    (PayloadTooLargeError, 413),
    (ServiceUnavailableError, 503),
)

_CODE_BY_STATUS = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.INVALID_REQUEST,
    413: ErrorCode.INVALID_REQUEST,
    415: ErrorCode.INVALID_REQUEST,
    422: ErrorCode.INVALID_REQUEST,
}


# FastAPI's/Starlette's HTTPException details when the body cannot be decoded at all.
BODY_NOT_PARSED = ("There was an error parsing the body", "Invalid multipart",
                   "Missing boundary")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["OUT_OF_STOCK"])
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the listed statuses documented with the error body."""
    descriptions = {400: "Bad request", 401: "Not authenticated", 403: "Not allowed",
                    404: "Not found", 409: "Conflict with the current state",
                    422: "Malformed input", 503: "Temporarily unavailable"}
    return {s: {"model": ErrorResponse, "description": descriptions.get(s, "Error")}
            for s in statuses}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": str(code), "message": message, **extra}}


def status_for(exc: DomainError) -> int:
    for cls, status in STATUS_BY_CLASS:
        if isinstance(exc, cls):
            return status
    return 400


def validation_problems(exc: RequestValidationError) -> list[dict[str, str]]:
    """`[{field, problem}]`: where (e.g. "path.shop_id", "body.items.0.qty") and what; plus
    `code` when a validated type refused the value (INVALID_TEXT, NUMBER_OUT_OF_RANGE, ...:
    platform_common/validated.py), so clients can branch on it."""
    from platform_common.validated import FIELD_CODES

    problems = []
    for e in exc.errors():
        problem = {"field": ".".join(str(p) for p in e.get("loc", ())),
                   "problem": str(e.get("msg", ""))}
        if e.get("type") in FIELD_CODES:
            problem["code"] = str(e["type"])
        problems.append(problem)
    return problems


def install_error_handlers(app: FastAPI, *, logger: str = "platform") -> None:
    log = logging.getLogger(logger)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        extra = getattr(exc, "details", None)
        body = error_body(exc.code, exc.message, **({"details": extra} if extra else {}))
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(body, status_code=status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(ErrorCode.INVALID_REQUEST, "The request is malformed.",
                       details=validation_problems(exc)),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        if status == 400 and str(exc.detail).startswith(BODY_NOT_PARSED):
            # FastAPI's answer to a body that is not UTF-8 JSON / not multipart: malformed
            # input like any other, so the documented 422 (found by the fuzzer, issue 11).
            status = 422
        code = _CODE_BY_STATUS.get(status, ErrorCode.INVALID_REQUEST)
        return JSONResponse(error_body(code, str(exc.detail)), status_code=status,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(ErrorCode.INTERNAL_ERROR, "Internal error; it has been logged."),
            status_code=500,
        )
