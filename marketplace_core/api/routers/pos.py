"""POS terminal heartbeats (spec §3.1: a terminal silent for more than 10 minutes takes
its shop out of online purchase).

Authentication, for now: the shared internal token of the platform
(`settings.internal_token`, header `X-Internal-Token`), the same secret other internal
endpoints use; the terminal is named by the path. Per-device credentials come with the
POS device-auth work; until then this endpoint must only be reachable from the POS
gateway, never from the public internet.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.security import APIKeyHeader

from infra.settings import get_settings
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.orders import (
    HeartbeatRequest,
    HeartbeatResponse,
    ShopEligibilityResponse,
)
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode, UnauthorizedError
from marketplace_core.orders import eligibility
from marketplace_core.pos import service as pos

router = APIRouter(tags=["pos"])

_token_header = APIKeyHeader(
    name="X-Internal-Token", auto_error=False,
    description="The platform's internal token (until POS terminals get their own)")


def require_internal_token(token: Annotated[str | None, Depends(_token_header)]) -> None:
    expected = get_settings().internal_token
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise UnauthorizedError(ErrorCode.INVALID_DEVICE_TOKEN, "missing or wrong device token")


DeviceId = Annotated[str, Path(pattern=r"^POS-[0-9]{4,}$", max_length=32,
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
