"""The core's error codes and classes: the platform's shared ones (`platform_common.errors`).

Kept as an import path for the core's modules; the definitions live in one place.
"""

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

__all__ = [
    "ConflictError", "DomainError", "ErrorCode", "ForbiddenError", "NotFoundError",
    "PayloadTooLargeError", "RateLimitedError", "ServiceUnavailableError",
    "UnauthorizedError", "ValidationError",
]
