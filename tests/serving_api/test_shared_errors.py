"""Both APIs answer errors with the one envelope from `platform_common`: the same malformed
request gets the same body from the core API and from the serving API."""

from __future__ import annotations

from typing import Any

import pytest

from platform_common.errors import ErrorCode
from tests.serving_api.conftest import World

pytestmark = pytest.mark.integration


def shape(body: Any) -> Any:
    """The body's structure: keys and value types, recursively (lists by their items)."""
    if isinstance(body, dict):
        return {k: shape(v) for k, v in body.items()}
    if isinstance(body, list):
        return [shape(v) for v in body]
    return type(body).__name__


def both(world: World, method: str, core_path: str, serving_path: str | None = None,
         **kwargs: Any) -> tuple[Any, Any]:
    return (world.core.request(method, core_path, **kwargs),
            world.serving.request(method, serving_path or core_path, **kwargs))


def test_a_malformed_shop_id_gets_the_same_422_from_both_apps(world: World) -> None:
    """`shop_id` that is not a UUID: the core's public shop card and the serving API's report
    (with a token both APIs accept: the core's own)."""
    core, serving = both(world, "GET", "/shops/not-a-uuid",
                         "/analytics/shops/not-a-uuid/sales?from=2024-05-01&to=2024-05-02",
                         headers=world.admin.headers)
    assert core.status_code == serving.status_code == 422
    assert core.json() == serving.json()
    assert core.json()["error"]["code"] == ErrorCode.INVALID_REQUEST
    assert shape(serving.json()) == {"error": {
        "code": "str", "message": "str", "details": [{"field": "str", "problem": "str"}]}}
    assert serving.json()["error"]["details"][0]["field"] == "path.shop_id"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/no/such/route"),
    ("POST", "/health"),
    ("GET", "/health/%00"),
])
def test_the_same_request_gets_the_same_error_body(world: World, method: str, path: str
                                                   ) -> None:
    core, serving = both(world, method, path)
    assert core.status_code == serving.status_code and core.status_code in (404, 405)
    assert core.json() == serving.json()
    assert set(core.json()["error"]) == {"code", "message"}


def test_missing_credentials_get_the_same_401(world: World) -> None:
    core, serving = both(world, "GET", "/users/me",
                         "/analytics/shops/00000000-0000-4000-8000-000000000001/sales"
                         "?from=2024-05-01&to=2024-05-02")
    assert core.status_code == serving.status_code == 401
    assert core.json()["error"]["code"] == serving.json()["error"]["code"] == "UNAUTHORIZED"
    assert shape(core.json()) == shape(serving.json())
    assert core.headers["www-authenticate"] == serving.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_gets_the_same_401_from_both(world: World) -> None:
    from tests.serving_api.test_tenancy import expired_token

    headers = {"Authorization": f"Bearer {expired_token(world)}"}
    core, serving = both(world, "GET", "/users/me",
                         f"/analytics/shops/{world.shop_a}/sales?from=2024-05-01&to=2024-05-02",
                         headers=headers)
    assert core.status_code == serving.status_code == 401
    assert core.json() == serving.json()
    assert core.json()["error"]["code"] == "TOKEN_EXPIRED"


def test_money_is_the_same_type_in_both_apps() -> None:
    from marketplace_core.api.schemas import common
    from platform_common.money import Money, format_money
    from serving_api.routers import reports

    assert common.Money is Money and reports.format_money is format_money
