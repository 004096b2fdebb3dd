"""Request dependencies: the warehouse client and the internal-call guard (the report
readers' authentication is `serving_api.auth`)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Header

from infra.settings import get_settings
from platform_common.errors import ErrorCode, UnauthorizedError


def warehouse() -> Any:
    # The embedded warehouse is opened once per process (it allows one process only);
    # warehouse.client caches the client, so this is cheap per request.
    from warehouse.client import get_client

    return get_client()


Warehouse = Annotated[Any, Depends(warehouse)]


def internal_caller(x_internal_token: Annotated[str | None, Header()] = None) -> None:
    expected = get_settings().internal_token
    if not x_internal_token or not secrets.compare_digest(x_internal_token.encode(),
                                                          expected.encode()):
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED,
                                "internal endpoint: missing or wrong X-Internal-Token")
