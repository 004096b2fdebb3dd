"""The seller dashboard in a real headless Chromium (issue 10 §4).

The real core API and the real serving API run as uvicorn processes on a database of the
test's own (the core's migrations, the shops' named products) and an embedded warehouse of
its own holding hand-written marts for every declared report (bench/dashboard_stack.py:
`shop_metric_daily` and the marts derived from it). Debian's Chromium, driven by Selenium
through /usr/bin/chromedriver, signs in as a seller with TOTP (the code typed from pyotp),
reads off the page the totals, every cell of the daily table, every overview card (value,
previous period, change), the top products (names, order, figures) and the sources table,
parses the Russian formats back ("1 234,50 сом", "+12,50 %") and compares each figure with
the API's JSON to the tyiyn; changes the date range and the shop; downloads the export and
compares it with the API's; signs out. Screenshots go to `.local/screenshots/dashboard/`
(git-ignored); `UPDATE_SCREENSHOTS=1` also refreshes the README's
`docs/images/dashboard.png`.
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
    MART_SCHEMAS,
    Seller,
    Stack,
    chromium,
    dashboard_stack,
    make_products,
    make_seller,
    report_mart_rows,
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
PRODUCTS_A = ["Платье летнее, хлопок", "Джинсы мужские прямые", "Кроссовки беговые",
              "Куртка демисезонная", "Футболка оверсайз", "Шапка вязаная", "Сумка кожаная",
              "Ремень кожаный", "Носки (5 пар)", "Шарф шерстяной", "Кепка", "Перчатки"]
PRODUCTS_B = ["Курут домашний", "Мёд горный", "Чай травяной", "Орехи грецкие"]


@dataclass
class World:
    stack: Stack
    seller: Seller
    other: Seller
    first: date
    last: date
    product_names: dict[str, str]  # product id → name (the seller's shops)


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
        shops = [(seller.shops[SHOP_A], 2, PRODUCTS_A), (seller.shops[SHOP_B], 1, PRODUCTS_B),
                 (other.shops["Чужой магазин"], 5, ["Чужой товар"])]
        rows: list[dict[str, Any]] = []
        marts: dict[str, list[dict[str, Any]]] = {name: [] for name in MART_SCHEMAS}
        names: dict[str, str] = {}
        for shop, scale, products in shops:
            ids = make_products(dsn, shop, products)
            if shop != other.shops["Чужой магазин"]:
                names.update(zip(map(str, ids), products, strict=True))
            sales = sales_rows(shop, first, DAYS, scale=scale)
            rows += sales
            for name, found in report_mart_rows(shop, sales, ids).items():
                marts[name] += found
        write_marts(local, rows, marts)
        with dashboard_stack(dsn, local, core_url=core) as stack:
            yield World(stack, seller, other, first, last, names)


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


def api_report(stack: Stack, token: str, shop: str, report: str, first: str, last: str,
               **params: Any) -> dict[str, Any]:
    answer = httpx.get(f"{stack.serving_url}/analytics/shops/{shop}/{report}", timeout=30,
                       headers={"Authorization": f"Bearer {token}"},
                       params={"from": first, "to": last, **params})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def shown_decimal(text: str) -> Decimal | None:
    """"1 234,50 сом", "+12,50 %", "−3,00 %", "1 008" → the Decimal shown; "—" → None."""
    plain = re.sub(r"[\s\u00a0\u202f+]|сом|%", "", text).replace(",", ".")
    plain = plain.replace("\u2212", "-")
    return None if plain == "—" else Decimal(plain)


def same_figure(kind: str, text: str, value: Any) -> bool:
    """The text shows the API's value exactly: its 2 places for money and per cent (a
    count with none, the overview's counts arriving as "12.00")."""
    shown = shown_decimal(text)
    if value is None or shown is None:
        return shown is None and value is None
    if kind in ("money", "percent"):
        return str(shown.quantize(Decimal("0.01"))) == str(value) and \
            re.search(r",\d\d(\s|\u00a0)", text) is not None
    return shown == Decimal(str(value))


def check_overview(driver: Any, api: dict[str, Any]) -> int:
    """One card per overview row, in its order: value, previous and change as the API's."""
    cards = driver.execute_script("""
        return [...document.querySelectorAll('#overview-cards .kpi')].map(k => ({
          metric: k.dataset.metric, kind: k.dataset.kind,
          value: k.querySelector('.value').textContent,
          previous: k.querySelector('.previous-value').textContent,
          change: k.querySelector('.change-value').textContent,
          up: k.querySelector('.change').classList.contains('up'),
          down: k.querySelector('.change').classList.contains('down')}))""")
    assert [c["metric"] for c in cards] == [r["metric"] for r in api["rows"]]
    compared = 0
    for card, row in zip(cards, api["rows"], strict=True):
        assert card["kind"] == row["kind"], (card, row)
        assert same_figure(row["kind"], card["value"], row["value"]), (card, row)
        assert same_figure(row["kind"], card["previous"], row["previous"]), (card, row)
        assert same_figure("percent", card["change"], row["change_pct"]), (card, row)
        change = Decimal(row["change_pct"]) if row["change_pct"] is not None else Decimal(0)
        assert (card["up"], card["down"]) == (change > 0, change < 0), (card, row)
        compared += 3
    return compared


def check_products(driver: Any, api: dict[str, Any], names: dict[str, str]) -> int:
    """The top products as the API sorts them (revenue descending): names from the
    catalog, every figure of the table, the chart's bars in the same order."""
    revenue = [Decimal(r["revenue"]) for r in api["rows"]]
    assert revenue == sorted(revenue, reverse=True) and len(api["rows"]) == 10
    kinds = {c["name"]: c["kind"] for c in api["columns"]}
    table = driver.execute_script("""
        const t = document.querySelector('#panel-products table');
        return [...t.querySelectorAll('tbody tr')].map(tr => ({key: tr.dataset.key,
          cells: [...tr.children].map(td => [td.dataset.column, td.textContent])}))""")
    assert [r["key"] for r in table] == [r["product_id"] for r in api["rows"]]
    compared = 0
    for shown, row in zip(table, api["rows"], strict=True):
        (label, name), *figures = shown["cells"]
        assert label == "product_id" and name == names[row["product_id"]]
        assert {c for c, _ in figures} >= {"revenue", "units", "orders"}
        for column, text in figures:
            assert same_figure(kinds[column], text, row[column]), (column, text, row)
            compared += 1
    labels = driver.execute_script(
        "return Chart.getChart('chart-products').data.labels")
    assert labels == [names[r["product_id"]][:28] for r in api["rows"]]
    return compared


def check_sources(driver: Any, stack: Stack, token: str, shop: str, first: str,
                  last: str) -> int:
    """The sources table: each surface's counts and the whole, as the funnel report's
    totals under each surface filter and without one."""
    rows = driver.execute_script("""
        const t = document.querySelector('#panel-sources table');
        const cells = (tr) => Object.fromEntries([...tr.children].filter(td =>
          td.dataset.column).map(td => [td.dataset.column, td.textContent]));
        return {report: t.dataset.report,
                rows: [...t.querySelectorAll('tbody tr')].map(tr =>
                  [tr.dataset.surface, cells(tr)]), all: cells(t.tFoot.rows[0])}""")
    report = rows["report"]
    compared = 0
    whole = api_report(stack, token, shop, report, first, last, page_size=1)["totals"]
    for column, text in rows["all"].items():
        assert same_figure("count", text, whole[column]), (column, text, whole)
        compared += 1
    assert len(rows["rows"]) >= 3
    for surface, cells in rows["rows"]:
        totals = api_report(stack, token, shop, report, first, last, page_size=1,
                            surface=surface)["totals"]
        for column, text in cells.items():
            assert same_figure("count", text, totals[column]), (surface, column, text)
            compared += 1
    return compared


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
    driver.set_window_size(1440, max(900, min(int(height) + 160, 4200)))
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


def test_product_names_are_the_shops_own(world: World) -> None:
    """The other seller signs in (API) and reads their own shop's product names only."""
    base, other = world.stack.serving_url, world.other
    login = httpx.post(f"{base}/dashboard/auth/login", timeout=10, json={
        "email": other.email, "password": other.password, "totp_code": other.code()})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    mine = other.shops["Чужой магазин"]
    theirs = str(world.seller.shops[SHOP_A])
    seller_products = list(world.product_names)[:2]
    own = httpx.get(f"{base}/analytics/shops/{mine}/product-names", headers=headers,
                    timeout=10, params={"ids": seller_products}).json()
    assert own == {"products": []}  # another shop's products are left out
    foreign = httpx.get(f"{base}/analytics/shops/{theirs}/product-names", headers=headers,
                        timeout=10, params={"ids": seller_products})
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "SHOP_NOT_FOUND"
    assert httpx.get(f"{base}/analytics/shops/{mine}/product-names", timeout=10,
                     params={"ids": seller_products}).status_code == 401


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
        compared += check_overview(driver, api_report(stack, token, shop_a, "overview", month,
                                                      last, page_size=100))
        compared += check_products(driver, api_report(stack, token, shop_a, "products", month,
                                                      last, page_size=10, sort="-revenue"),
                                   world.product_names)
        compared += check_sources(driver, stack, token, shop_a, month, last)
        insights = api_report(stack, token, shop_a, "insights", month, last)
        shown = driver.execute_script(
            "return [...document.querySelectorAll('#insights-list li')].map(li => "
            "[li.dataset.date, li.dataset.metric])")
        assert shown == [[r["date"], r["metric"]] for r in insights["rows"]][:len(shown)]
        assert insights["rows"] and shown, "the alerts are listed"
        assert driver.execute_script("return document.querySelectorAll("
                                     "'#panel-posts tbody tr').length") > 0
        assert "Не удалось" not in driver.find_element(By.ID, "dashboard").text
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
        compared += check_overview(driver, api_report(stack, token, shop_b, "overview", week,
                                                      last, page_size=100))

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
