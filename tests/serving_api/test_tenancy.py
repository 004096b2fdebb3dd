"""Who may see what on the serving API (issue 10 §1), against the real apps and a real
database with the core's migrations: every caller × the sales report as JSON and as CSV,
and every caller × every declared report (at each of its addresses), with the exact status
and code; odd paths never answer 500."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
import pytest

from infra.settings import get_settings
from marketplace_core.accounts import tokens
from marketplace_core.accounts.tokens import AccessClaims
from serving_api.auth import AccessDirectory, Reader
from serving_api.reports.catalog import REPORTS
from tests.serving_api.conftest import World

pytestmark = pytest.mark.integration

RANGE = {"from": "2024-05-01", "to": "2024-05-03"}
UNKNOWN_SHOP = UUID("00000000-0000-4000-8000-0000000000aa")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expired_token(w: World) -> str:
    claims = jwt.decode(w.seller_a.access_token, options={"verify_signature": False})
    token, _ = tokens.issue_access_token(
        w.seller_a.id, "seller", UUID(claims["sid"]),
        now=datetime.now(UTC) - timedelta(hours=1), ttl_seconds=60)
    return token


def tampered_token(w: World) -> str:
    """Seller A's token with its payload changed to role admin, signature kept."""
    header, payload, signature = w.seller_a.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def wrong_secret_token(w: World) -> str:
    claims = jwt.decode(w.seller_a.access_token, options={"verify_signature": False})
    return jwt.encode(claims | {"role": "admin"}, "not-the-platform-secret-0123456789abcdef",
                      algorithm="HS256")


# (caller, shop) -> (status, code or None for 200)
CASES: dict[str, tuple[str, str, int, str | None]] = {
    # name: (headers of, shop of, status, code)
    "no token": ("none", "a", 401, "UNAUTHORIZED"),
    "not a bearer": ("basic", "a", 401, "UNAUTHORIZED"),
    "garbage token": ("garbage", "a", 401, "UNAUTHORIZED"),
    "expired": ("expired", "a", 401, "TOKEN_EXPIRED"),
    "tampered signature": ("tampered", "a", 401, "UNAUTHORIZED"),
    "wrong secret": ("wrong_secret", "a", 401, "UNAUTHORIZED"),
    "wrong internal token": ("bad_internal", "a", 401, "UNAUTHORIZED"),
    "buyer": ("buyer", "a", 403, "FORBIDDEN"),
    "buyer, unknown shop": ("buyer", "unknown", 403, "FORBIDDEN"),
    "seller own shop": ("seller_a", "a", 200, None),
    "seller other's shop": ("seller_a", "b", 404, "SHOP_NOT_FOUND"),
    "other seller own shop": ("seller_b", "b", 200, None),
    "other seller, first's shop": ("seller_b", "a", 404, "SHOP_NOT_FOUND"),
    "seller unknown shop": ("seller_a", "unknown", 404, "SHOP_NOT_FOUND"),
    "admin": ("admin", "a", 200, None),
    "admin, other shop": ("admin", "b", 200, None),
    "analyst": ("analyst", "a", 200, None),
    "analyst, other shop": ("analyst", "b", 200, None),
    "internal token": ("internal", "b", 200, None),
}


def headers_of(w: World, who: str) -> dict[str, str]:
    return {
        "none": {},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": bearer("not.a.jwt"),
        "expired": bearer(expired_token(w)),
        "tampered": bearer(tampered_token(w)),
        "wrong_secret": bearer(wrong_secret_token(w)),
        "bad_internal": {"X-Internal-Token": "guess"},
        "internal": {"X-Internal-Token": get_settings().internal_token},
        "buyer": w.buyer.headers, "seller_a": w.seller_a.headers,
        "seller_b": w.seller_b.headers, "admin": w.admin.headers,
        "analyst": w.analyst.headers,
    }[who]


def shop_of(w: World, which: str) -> UUID:
    return {"a": w.shop_a, "b": w.shop_b, "unknown": UNKNOWN_SHOP}[which]


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
@pytest.mark.parametrize("case", list(CASES))
def test_tenancy_matrix(world: World, case: str, fmt: str) -> None:
    who, which, status, code = CASES[case]
    shop = shop_of(world, which)
    r = world.serving.get(f"/analytics/shops/{shop}/sales", headers=headers_of(world, who),
                          params=RANGE | {"format": fmt})
    assert r.status_code == status, (case, r.text)
    if code is not None:
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert body["error"]["code"] == code and set(body) == {"error"}
        assert str(world.shop_a if shop != world.shop_a else world.shop_b) not in r.text
        if status == 401:
            assert r.headers["www-authenticate"] == "Bearer"
        if code == "SHOP_NOT_FOUND":  # the same answer as for a shop that does not exist
            assert body == {"error": {"code": "SHOP_NOT_FOUND",
                                      "message": f"shop {shop} does not exist"}}
        return
    expected_net = {"a": ["100.00", "50.50"], "b": ["999.99"]}[which]
    if fmt == "json":
        body = r.json()
        assert body["shop_id"] == str(shop)
        assert [d["net"] for d in body["rows"]] == expected_net
    elif fmt == "csv":  # the Excel dialect: ';', decimal comma (serving_api.exports)
        assert r.headers["content-type"].startswith("text/csv")
        lines = r.text.strip().splitlines()
        assert [line.split(";")[-1] for line in lines[1:]] == \
            [n.replace(".", ",") for n in expected_net]
    else:
        import io

        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True).active
        assert sheet is not None
        values = [row[-1] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert [f"{v:.2f}" for v in values[:-1]] == expected_net  # then the totals row


@pytest.mark.parametrize("case", list(CASES))
def test_tenancy_matrix_for_every_report(world: World, case: str) -> None:
    """The same matrix over every report of the catalog (its marts exist, empty but for
    sales), at /analytics/shops/{id}/<name> and at its query address if it has one."""
    who, which, status, code = CASES[case]
    shop = shop_of(world, which)
    headers = headers_of(world, who)
    for name, report in REPORTS.items():
        calls = [(f"/analytics/shops/{shop}/{name}", RANGE)]
        if report.query_route:
            calls.append((report.query_route, RANGE | {"shop_id": str(shop)}))
        for path, params in calls:
            r = world.serving.get(path, headers=headers, params=params)
            assert r.status_code == status, (case, path, r.text)
            body = r.json()
            if code is None:
                assert (body["report"], body["shop_id"]) == (name, str(shop))
            else:
                assert body["error"]["code"] == code and set(body) == {"error"}
                assert str(world.shop_a if shop != world.shop_a else world.shop_b) \
                    not in r.text


def test_a_foreign_shop_answers_exactly_like_a_missing_one(world: World) -> None:
    """Seller A cannot tell seller B's shop from a random id: same status, code, message
    shape and headers, with a bad date range or a bad format too."""
    for params in (RANGE, {"from": "2024-05-03", "to": "2024-05-01"}, RANGE | {"format": "csv"}):
        foreign = world.serving.get(f"/analytics/shops/{world.shop_b}/sales",
                                    headers=world.seller_a.headers, params=params)
        missing = world.serving.get(f"/analytics/shops/{UNKNOWN_SHOP}/sales",
                                    headers=world.seller_a.headers, params=params)
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["error"]["message"].replace(str(world.shop_b), "X") == \
            missing.json()["error"]["message"].replace(str(UNKNOWN_SHOP), "X")
        assert sorted(foreign.headers) == sorted(missing.headers)


def test_a_logged_out_session_or_disabled_account_is_refused(world: World) -> None:
    from tests.core.auth_helpers import make_seller_with_shop

    seller, _, shop = make_seller_with_shop(world.core)
    url = f"/analytics/shops/{shop}/sales"
    assert world.serving.get(url, headers=seller.headers, params=RANGE).status_code == 200
    r = world.core.post("/auth/logout", json={"refresh_token": seller.refresh_token})
    assert r.status_code in (200, 204), r.text
    r = world.serving.get(url, headers=seller.headers, params=RANGE)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")


def test_a_token_of_a_user_that_does_not_exist_is_refused(world: World) -> None:
    token, _ = tokens.issue_access_token(uuid.uuid4(), "admin", uuid.uuid4())
    r = world.serving.get(f"/analytics/shops/{world.shop_a}/sales", headers=bearer(token),
                          params=RANGE)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")


ODD_IDS = [
    "%00", "%0A", "%0D%0A", "%7F", "%1B%5B31m", "%FF%FE", "%C0%AE%C0%AE", "%E2%80%AE",
    "%F0%9F%92%A9", "..%2F..%2Finternal%2Fmarts%2Fshop_metric_daily", "%252e%252e",
    "1" * 10_000, "a" * 60_000, "00000000-0000-0000-0000-00000000000%00",
    "%EF%BC%90" * 32, " ", "%20", "'%3B DROP TABLE shops%3B--", "{shop_id}", "-1",
    "99999999999999999999999999999999999999999",
]


@pytest.mark.parametrize("odd", ODD_IDS, ids=lambda s: s[:24])
@pytest.mark.parametrize("who", ["none", "seller_a", "admin"])
def test_odd_paths_never_500(world: World, odd: str, who: str) -> None:
    r = world.serving.get(f"/analytics/shops/{odd}/sales?from=2024-05-01&to=2024-05-03",
                          headers=headers_of(world, who))
    assert r.status_code < 500, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] in {
        "UNAUTHORIZED", "INVALID_REQUEST", "NOT_FOUND", "SHOP_NOT_FOUND"}
    if who == "none":  # nothing about the shop before authentication (an encoded "/"
        # makes another path, which no route serves: a plain 404 NOT_FOUND)
        assert r.status_code == 401 or body["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("query", [
    "from=%00&to=2024-05-03", "from=2024-05-01&to=2024-13-45", "from=2024-05-01",
    "from=2024-05-01&to=2024-05-03&format=%FF", "from=" + "9" * 5000 + "&to=2024-05-03",
    "from=2024-05-01&to=2024-05-03&format=pdf",
    "from=2024-05-01&to=2024-05-03&format=csv&dialect=tsv",
])
def test_odd_queries_are_invalid_requests(world: World, query: str) -> None:
    r = world.serving.get(f"/analytics/shops/{world.shop_a}/sales?{query}",
                          headers=world.seller_a.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "INVALID_REQUEST"


def test_the_access_lookup_is_cached_for_a_few_seconds(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    clock = [1000.0]
    monkeypatch.setattr("serving_api.auth.time.monotonic", lambda: clock[0])
    loads: list[UUID] = []
    directory = AccessDirectory(pool=None, ttl=5)  # type: ignore[arg-type]

    def load(claims: AccessClaims) -> Reader:
        loads.append(claims.user_id)
        return Reader(claims.user_id, "seller", frozenset())

    monkeypatch.setattr(directory, "_load", load)
    user, session = uuid.uuid4(), uuid.uuid4()
    claims = AccessClaims(user, "seller", session, datetime.now(UTC))
    directory.reader(claims)
    clock[0] += 4.9
    directory.reader(claims)
    assert len(loads) == 1
    directory.reader(AccessClaims(user, "seller", uuid.uuid4(), datetime.now(UTC)))
    assert len(loads) == 2  # another session is another entry
    clock[0] += 0.2
    directory.reader(claims)
    assert len(loads) == 3


def test_the_report_documents_its_security(world: World) -> None:
    spec: dict[str, Any] = world.serving.get("/openapi.json").json()
    op = spec["paths"]["/analytics/shops/{shop_id}/sales"]["get"]
    assert op["security"] == [{"HTTPBearer": []}]
    assert {"401", "403", "404", "422", "503"} <= set(op["responses"])


def test_the_serving_api_reads_the_core_on_read_only_connections(world: World) -> None:
    import psycopg

    pool = world.serving.app.state.access.pool
    with pool.connection() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("update users set full_name = 'x' where false")
