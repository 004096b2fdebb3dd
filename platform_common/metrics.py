"""Prometheus metrics shared by every process of the platform (issue 11 §6, seed 000 §19).

* `instrument(app, name)`: an ASGI middleware that times every request of a FastAPI app
  and counts it by *route template* (`/products/{product_id}`, never the raw path, so a
  scanner cannot grow the series without bound), method and status class, plus a
  `GET /metrics` endpoint. The apps bind to loopback (`PLATFORM_BIND_HOST`) like every
  other port of the stack, so `/metrics` needs no token.
* `serve_metrics(port)`: worker processes without an HTTP server of their own (the outbox
  relay, the POS ingest, the media worker, the lake landing) expose the same registry on a
  port of their own from `infra/settings.py` (`*_METRICS_PORT`).
* `ScrapeCollector`: gauges read from the database when Prometheus scrapes (outbox lag,
  POS heartbeat ages): always current, and nothing runs between scrapes.

Metric objects live at module level in the module that updates them (prometheus_client's
default registry); creating them twice in one process would raise, which is why apps and
tests may build many apps but every metric is defined once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("platform_common.metrics")

# Seconds; finer below 100 ms where the spec's targets are (card < 50 ms, search < 100 ms
# p99 in issue 11 §4, search < 800 ms in seed 000 §1).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.8, 1.0, 2.5,
                   5.0, 10.0)
UNMATCHED = "<unmatched>"  # requests no route matched (404s of scanners): one series

HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template.",
    ["app", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "http_requests",
    "Requests answered, by route template, method and status class (2xx, 4xx, 5xx).",
    ["app", "route", "method", "status"],
)

ASGIApp = Callable[..., Any]


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: streaming responses stay streamed)."""

    def __init__(self, app: ASGIApp, *, app_name: str) -> None:
        self.app = app
        self.app_name = app_name
        # Bounded like the series themselves: routes x methods x status classes.
        self._cache: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler is answered 500 by the server

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            latency, requests = self._children(route_template(scope), scope.get("method", "GET"),
                                               status // 100)
            latency.observe(time.perf_counter() - started)
            requests.inc()

    def _children(self, route: str, method: str, status_class: int) -> tuple[Any, Any]:
        """The labelled series, looked up once per (route, method, class): `labels()`
        validates and locks on every call, which a hot route need not pay each time."""
        key = (route, method, status_class)
        found = self._cache.get(key)
        if found is None:
            found = (HTTP_LATENCY.labels(self.app_name, route, method),
                     HTTP_REQUESTS.labels(self.app_name, route, method, f"{status_class}xx"))
            self._cache[key] = found
        return found


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's path template; Starlette/FastAPI put the route in the scope
    when routing (mounted sub-apps add their prefix in `root_path`)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return path


def metrics_response_body() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def instrument(app: Any, app_name: str) -> None:
    """Time every request of the FastAPI `app` and serve `GET /metrics` (not in the
    OpenAPI: it is for Prometheus, not for clients)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    async def metrics() -> Response:
        # Scrape collectors may query the database: off the event loop.
        body, content_type = await run_in_threadpool(metrics_response_body)
        return Response(body, media_type=content_type)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.add_middleware(MetricsMiddleware, app_name=app_name)


_served: dict[int, Any] = {}
_serve_lock = threading.Lock()


def serve_metrics(port: int, host: str | None = None) -> bool:
    """Expose the registry on `host:port` (default: the settings' loopback bind host) from
    a daemon thread. A port already taken (a standby relay beside the leader) is logged,
    not fatal: the process works without its metrics. Returns whether it serves."""
    if host is None:
        from infra.settings import get_settings

        host = get_settings().bind_host
    with _serve_lock:
        if port in _served:
            return True
        try:
            _served[port] = start_http_server(port, addr=host)
        except OSError as exc:
            log.warning("metrics not served on %s:%d (%s)", host, port, exc)
            return False
    log.info("metrics on http://%s:%d/metrics", host, port)
    return True


Sample = tuple[dict[str, str], float]


class ScrapeCollector(Collector):
    """One gauge family computed at scrape time by `read()` (labels → value). A failing
    read (database down) yields no samples and counts in `scrape_errors` instead of
    failing the whole scrape: the other metrics still arrive."""

    def __init__(self, name: str, documentation: str, labels: Iterable[str],
                 read: Callable[[], Iterable[Sample]]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        try:
            for labels, value in self.read():
                family.add_metric([labels[k] for k in self.labels], value)
        except Exception as exc:
            log.warning("metric %s not read: %s", self.name, type(exc).__name__)
            SCRAPE_ERRORS.labels(self.name).inc()
            return
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Registered without calling `read` (no database at import time).
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labels)]


SCRAPE_ERRORS = Counter("metrics_scrape_errors",
                        "Scrape-time gauges that could not be read, by metric.", ["metric"])

_registered: set[str] = set()


def register_once(collector: ScrapeCollector) -> None:
    """Register a scrape collector unless one of that name already is (apps are built
    many times in a test process)."""
    with _serve_lock:
        if collector.name in _registered:
            return
        REGISTRY.register(collector)
        _registered.add(collector.name)
