"""The seller dashboard in a real headless Chromium (issue 10 §4).

The real core API and the real serving API run as uvicorn processes on a database of the
test's own (the core's migrations) and an embedded warehouse of its own holding a
hand-written `shop_metric_daily` (bench/dashboard_stack.py). Debian's Chromium, driven by
Selenium through /usr/bin/chromedriver, signs in as a seller with TOTP (the code typed
from pyotp), reads the totals and every cell of the daily table off the page, parses the
Russian money format back ("1 234,50 сом") and compares each figure with the API's JSON
to the tyiyn; changes the date range and the shop; downloads the export and compares it
with the API's; signs out. Screenshots go to `.local/screenshots/dashboard/` (git-ignored);
`UPDATE_SCREENSHOTS=1` also refreshes the README's `docs/images/dashboard.png`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.dashboard_stack import (
    Seller,
    Stack,
    chromium,
    dashboard_stack,
    make_seller,
    sales_rows,
    wait_for,
    write_marts,
)
from infra.settings import REPO_ROOT, get_settings
from marketplace_core.migrate import apply_migrations
from tests.core.auth_helpers import wrong_totp_code

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MONTHS = ["янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"]
SHOP_A, SHOP_B = "Дордой — контейнер 14", "Ош базар — ряд 3"
DAYS = 60
SCREENSHOTS = get_settings().local_dir / "screenshots" / "dashboard"
README_IMAGE = REPO_ROOT / "docs" / "images" / "dashboard.png"


@dataclass
class World:
    stack: Stack
    seller: Seller
    other: Seller
    first: date
    last: date


@pytest.fixture(scope="module")
def world(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    from bench.loadgen import core_api
    from infra.services.dashboard import DashboardAssets

    DashboardAssets().install()
    dsn = make_database()
    apply_migrations(dsn)
    local = tmp_path_factory.mktemp("dashboard") / "local"
    last = date.today()
    first = last - timedelta(days=DAYS - 1)
    with core_api(dsn, workers=1) as core:
        seller = make_seller(dsn, core, [SHOP_A, SHOP_B])
        other = make_seller(dsn, core, ["Чужой магазин"])
        rows = [*sales_rows(seller.shops[SHOP_A], first, DAYS, scale=2),
                *sales_rows(seller.shops[SHOP_B], first, DAYS, scale=1),
                *sales_rows(other.shops["Чужой магазин"], first, DAYS, scale=5)]
        write_marts(local, rows)
        with dashboard_stack(dsn, local, core_url=core) as stack:
            yield World(stack, seller, other, first, last)


def parse_figure(kind: str, text: str) -> Any:
    """The page's text back to the API's value: "1 234,50 сом" → "1234.50", "1 008" → 1008."""
    plain = re.sub(r"[\s\u00a0\u202f]|сом|%", "", text).replace(",", ".")
    if kind in ("money", "percent"):
        return str(Decimal(plain).quantize(Decimal("0.01")))
    if kind == "count":
        return int(plain)
    return text


def ru_date(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def api_sales(stack: Stack, token: str, shop: str, first: str, last: str) -> dict[str, Any]:
    answer = httpx.get(f"{stack.serving_url}/analytics/shops/{shop}/sales", timeout=30,
                       headers={"Authorization": f"Bearer {token}"},
                       params={"from": first, "to": last, "sort": "date", "page_size": 500})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def page_token(driver: Any) -> str:
    stored = driver.execute_script("return sessionStorage.getItem('dashboard.tokens')")
    assert stored, "the page keeps its tokens in sessionStorage"
    token: str = json.loads(stored)["access_token"]
    assert not driver.get_cookies(), "no cookie carries the session"
    return token


def rendered(driver: Any, after: int) -> int:
    """Wait for the render after the `after`-th; returns its number."""
    value = wait_for(driver, "return document.body.dataset.state === 'ready' && "
                             f"Number(document.body.dataset.render) > {after} && "
                             "Number(document.body.dataset.render)")
    return int(value)


def render_count(driver: Any) -> int:
    return int(driver.execute_script("return Number(document.body.dataset.render || 0)"))


def set_range(driver: Any, first: str, last: str) -> int:
    before = render_count(driver)
    driver.execute_script(
        "document.getElementById('date-from').value = arguments[0];"
        "document.getElementById('date-to').value = arguments[1];", first, last)
    driver.find_element("id", "apply").click()
    return rendered(driver, before)


def check_page_against_api(driver: Any, api: dict[str, Any]) -> int:
    """Every KPI card, every cell of the daily table and its totals row, as shown, equal
    the API's figures exactly; returns how many figures were compared."""
    kinds = {c["name"]: c["kind"] for c in api["columns"]}
    compared = 0
    cards = driver.execute_script(
        "return [...document.querySelectorAll('#kpis .kpi')].map(k => "
        "[k.dataset.metric, k.querySelector('.value').textContent])")
    assert len(cards) >= 4, cards
    for metric, text in cards:
        assert parse_figure(kinds[metric], text) == api["totals"][metric], (metric, text)
        compared += 1
    table = driver.execute_script("""
        const t = document.querySelector('#panel-sales table');
        const cells = (tr) => [...tr.children].map(td => [td.dataset.column, td.textContent]);
        return {head: [...t.querySelectorAll('thead th')].map(th => th.dataset.column),
                rows: [...t.querySelectorAll('tbody tr')].map(cells),
                totals: t.tFoot ? cells(t.tFoot.rows[0]) : []};""")
    assert table["head"] == [c["name"] for c in api["columns"]]
    assert len(table["rows"]) == len(api["rows"])
    for shown, row in zip(table["rows"], api["rows"], strict=True):
        for column, text in shown:
            if kinds[column] == "date":
                assert text == ru_date(row[column])
            else:
                assert parse_figure(kinds[column], text) == row[column], (column, text, row)
            compared += 1
    for column, text in table["totals"]:
        if column in api["totals"] and api["totals"][column] is not None:
            assert parse_figure(kinds[column], text) == api["totals"][column], (column, text)
            compared += 1
    return compared


def screenshot(driver: Any, name: str) -> Path:
    """The whole page (the window grown to the document's height)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1440, max(900, min(int(height) + 40, 4000)))
    time.sleep(0.3)  # the charts resize to the new window
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_download(directory: Path, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in directory.iterdir() if not p.name.endswith((".crdownload", ".tmp"))]
        if done:
            return done[0]
        time.sleep(0.1)
    raise TimeoutError(f"no download in {directory}")


def test_dashboard_routes(world: World) -> None:
    base = world.stack.serving_url
    page = httpx.get(f"{base}/dashboard/", timeout=10)
    assert page.status_code == 200 and "Вход для продавцов" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    vendor = httpx.get(f"{base}/dashboard/vendor/chart.umd.min.js", timeout=10)
    assert vendor.status_code == 200 and "javascript" in vendor.headers["content-type"]
    assert httpx.get(f"{base}/dashboard/vendor/manifest.json", timeout=10).status_code == 404
    assert httpx.get(f"{base}/dashboard/static/..%2Fapp.js", timeout=10).status_code == 404
    config = httpx.get(f"{base}/dashboard/config", timeout=10).json()
    assert "sales" in [r["name"] for r in config["reports"]]
    # The sign-in is the core's: its answers come back unchanged.
    refused = httpx.post(f"{base}/dashboard/auth/login", timeout=10, json={
        "email": world.seller.email, "password": "wrong password", "totp_code": "123456"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert httpx.get(f"{base}/analytics/shops", timeout=10).status_code == 401


def test_dashboard_in_chromium(world: World, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    stack, seller = world.stack, world.seller
    downloads = tmp_path / "downloads"
    started = time.monotonic()
    with chromium(downloads) as driver:
        driver.get(stack.dashboard_url)
        wait_for(driver, "return document.body.dataset.state === 'signin'")
        # A wrong code is refused with a Russian message, and nothing is stored.
        driver.find_element(By.ID, "email").send_keys(seller.email)
        driver.find_element(By.ID, "password").send_keys(seller.password)
        driver.find_element(By.ID, "totp").send_keys(wrong_totp_code(seller.totp_secret))
        driver.find_element(By.ID, "signin-submit").click()
        error = wait_for(driver, "const e = document.getElementById('signin-error');"
                                 "return !e.hidden && e.textContent")
        assert "Код не подошёл" in error
        assert driver.execute_script("return sessionStorage.length") == 0
        screenshot(driver, "01-signin-refused")

        # The email and password stay typed; the code from the authenticator now.
        driver.find_element(By.ID, "totp").clear()
        driver.find_element(By.ID, "totp").send_keys(seller.code())
        driver.find_element(By.ID, "signin-submit").click()
        first_render = rendered(driver, 0)
        token = page_token(driver)

        # The shop selector lists the seller's shops, and only them.
        shops = httpx.get(f"{stack.serving_url}/analytics/shops", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}).json()["shops"]
        assert {s["name"] for s in shops} == {SHOP_A, SHOP_B}
        options = driver.execute_script(
            "return [...document.getElementById('shop').options].map(o => o.value)")
        assert sorted(options) == sorted(s["id"] for s in shops)
        assert str(world.other.shops["Чужой магазин"]) not in options

        # The default view: the last 30 days of the first shop; the meaningful paint mark.
        shop_a = str(seller.shops[SHOP_A])
        driver.execute_script("document.getElementById('shop').value = arguments[0];"
                              "document.getElementById('shop').dispatchEvent("
                              "new Event('change'))", shop_a)
        rendered(driver, first_render)
        paint = driver.execute_script(
            "return performance.getEntriesByName('dashboard:meaningful-paint').length")
        assert paint == 1
        last = world.last.isoformat()
        month = (world.last - timedelta(days=29)).isoformat()
        assert driver.find_element(By.ID, "date-from").get_attribute("value") == month
        compared = check_page_against_api(driver, api_sales(stack, token, shop_a, month, last))
        assert driver.execute_script(
            "return !!window.Chart && !!Chart.getChart('chart-revenue')"), "the chart is drawn"
        path = screenshot(driver, "02-overview-30-days")
        if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not README_IMAGE.exists():
            README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_IMAGE)

        # The whole 60 days, then the 7-day button.
        first = world.first.isoformat()
        set_range(driver, first, last)
        compared += check_page_against_api(driver, api_sales(stack, token, shop_a, first, last))
        before = render_count(driver)
        driver.find_element(By.CSS_SELECTOR, ".quick button[data-days='7']").click()
        rendered(driver, before)
        week = (world.last - timedelta(days=6)).isoformat()
        compared += check_page_against_api(driver, api_sales(stack, token, shop_a, week, last))
        screenshot(driver, "03-overview-7-days")

        # The other shop.
        shop_b = str(seller.shops[SHOP_B])
        before = render_count(driver)
        driver.execute_script("document.getElementById('shop').value = arguments[0];"
                              "document.getElementById('shop').dispatchEvent("
                              "new Event('change'))", shop_b)
        rendered(driver, before)
        compared += check_page_against_api(driver, api_sales(stack, token, shop_b, week, last))
        assert driver.find_element(By.ID, "shop-title").text == SHOP_B

        # The export: the file the page downloads is the API's own.
        driver.execute_script("document.getElementById('export-report').value = 'sales'")
        fmt = driver.execute_script("return document.getElementById('export-format').value")
        driver.find_element(By.ID, "export").click()
        wait_for(driver, "return document.body.dataset.exported")
        saved = wait_download(downloads)
        if fmt == "csv":
            expected = httpx.get(
                f"{stack.serving_url}/analytics/shops/{shop_b}/sales", timeout=30,
                headers={"Authorization": f"Bearer {token}"},
                params={"from": week, "to": last, "format": "csv"})
            assert saved.read_bytes() == expected.content
            assert saved.name.endswith(".csv")
        else:  # the export endpoint's XLSX: a zip (Office Open XML)
            assert saved.read_bytes()[:2] == b"PK"

        # Nothing the page ran failed (a 4xx/5xx fetch is logged by the browser too).
        logs = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not [m for m in logs if "Uncaught" in m or "Content Security Policy" in m], logs

        # Sign out: back to the form, tokens gone.
        driver.find_element(By.ID, "sign-out").click()
        wait_for(driver, "return document.body.dataset.state === 'signin'")
        assert driver.execute_script("return sessionStorage.getItem('dashboard.tokens')") \
            is None
    assert compared > 300
    print(f"compared {compared} figures in {time.monotonic() - started:.1f}s of browser")
