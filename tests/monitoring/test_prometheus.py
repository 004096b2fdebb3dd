"""Prometheus (issue 11 §6): the alert rules pass their own unit tests (`promtool test
rules`), the configuration generated from the settings is valid and scrapes every process
of ours, a real server loads both and scrapes a worker, and docker compose runs the
monitored processes too."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with dbt

from infra.prometheus.config import RULES_DIR, render, scrape_targets
from infra.settings import REPO_ROOT, get_settings

PROM_DIR = REPO_ROOT / "infra" / "prometheus"
RULE_TESTS = sorted((PROM_DIR / "tests").glob("*.yml"))
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
# Long-running services without metrics of their own: Dagster (its runs' dbt time is
# measured by the serving API, which runs dbt) and the dashboard's assets (files).
NOT_SCRAPED = {"dagster", "dashboard-assets"}


@pytest.fixture(scope="module")
def promtool() -> str:
    """Debian's promtool; installed with the server's package when missing."""
    from infra.services.prometheus import binary, install_from_apt

    if binary("promtool") is None:
        try:
            install_from_apt()
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"promtool not installable here: {exc}")
    found = binary("promtool")
    assert found
    return found


def _alerts() -> dict[str, dict[str, Any]]:
    out = {}
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    out[rule["alert"]] = rule
    return out


def test_rule_files_are_valid(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", *map(str, RULE_FILES)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests(promtool: str) -> None:
    result = subprocess.run([promtool, "test", "rules", *map(str, RULE_TESTS)],
                            capture_output=True, text=True, check=False, cwd=PROM_DIR / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_has_a_duration_a_severity_a_description_and_a_unit_test() -> None:
    alerts = _alerts()
    # The seed's list (§19): POS failures, heartbeat delays, payout errors, API SLA; and
    # the consumer lag and outbox lag.
    for name in ("PosTerminalOffline", "PosHeartbeatDelayed", "PosIngestConsumerLag",
                 "OutboxLagHigh", "PayoutFailures", "ApiLatencyP99High", "ApiErrorRatioHigh"):
        assert name in alerts
    tested = {case["alertname"] for path in RULE_TESTS
              for test in yaml.safe_load(path.read_text())["tests"]
              for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    for name, rule in alerts.items():
        assert rule.get("for"), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["description"].strip(), name
        assert name in tested, f"{name} has no promtool test that fires it"


def test_generated_config_is_valid_and_scrapes_every_process(promtool: str,
                                                              tmp_path: Path) -> None:
    from infra.services import all_services

    config = tmp_path / "prometheus.yml"
    config.write_text(render())
    result = subprocess.run([promtool, "check", "config", str(config)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]}
    apps = {s.name for s in all_services() if getattr(s, "is_app", False)}
    assert apps - NOT_SCRAPED <= jobs, "a service of ours is not scraped"
    assert "prometheus" in jobs


def test_targets_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTBOX_RELAY_METRICS_PORT", "19101")
    monkeypatch.setenv("CORE_API_PORT", "18000")
    monkeypatch.setenv("PLATFORM_BIND_HOST", "127.0.0.2")
    get_settings.cache_clear()
    try:
        targets = scrape_targets()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert targets["outbox-relay"] == "127.0.0.2:19101"
    assert targets["core-api"] == "127.0.0.2:18000"


def test_prometheus_starts_after_the_apps() -> None:
    from infra.services import all_services, by_name

    names = [s.name for s in all_services()]
    assert names[-1] == "prometheus"
    assert getattr(by_name("prometheus"), "is_app", False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_prometheus(promtool: str, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """A real server on free ports, with the generated configuration and our rules, and a
    worker's metrics port (this process's registry) among its targets."""
    from infra.services.prometheus import binary

    relay_port, prom_port = _free_port(), _free_port()
    monkeypatch.setenv("OUTBOX_RELAY_METRICS_PORT", str(relay_port))
    monkeypatch.setenv("PROMETHEUS_PORT", str(prom_port))
    monkeypatch.setenv("PROMETHEUS_SCRAPE_INTERVAL_SECONDS", "1")
    get_settings.cache_clear()
    config = tmp_path / "prometheus.yml"
    config.write_text(render())
    from platform_common.metrics import serve_metrics

    assert serve_metrics(relay_port, "127.0.0.1")
    proc = subprocess.Popen(
        [binary("prometheus") or "prometheus", f"--config.file={config}",
         f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"))  # noqa: SIM115
    try:
        yield f"http://127.0.0.1:{prom_port}", relay_port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        get_settings.cache_clear()


def test_a_real_server_loads_the_rules_and_scrapes_a_worker(
        live_prometheus: tuple[str, int]) -> None:
    url, _ = live_prometheus
    deadline = time.monotonic() + 60
    up: list[Any] = []
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                up = httpx.get(f"{url}/api/v1/query", params={"query": 'up{job="outbox-relay"}'},
                               timeout=5).json()["data"]["result"]
                if up and up[0]["value"][1] == "1":
                    break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    assert up and up[0]["value"][1] == "1", "the worker's metrics port was not scraped"
    groups = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = {rule["name"] for g in groups for rule in g["rules"] if rule["type"] == "alerting"}
    assert set(_alerts()) <= loaded


def test_compose_runs_the_core_the_relay_the_ingest_and_the_monitoring() -> None:
    compose_file = REPO_ROOT / "infra" / "docker-compose.yml"
    services = yaml.safe_load(compose_file.read_text())["services"]
    for name in ("core-api", "outbox-relay", "pos-ingest", "prometheus"):
        assert name in services
    assert (REPO_ROOT / "infra" / "docker" / "app.Dockerfile").exists()
    # The same commands as `make up`.
    assert "marketplace_core.outbox.relay" in services["outbox-relay"]["command"]
    assert "marketplace_core.pos.consumer" in services["pos-ingest"]["command"]
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True,
                                        check=False).returncode != 0:
        return  # no compose client here: the structure above is what can be checked
    result = subprocess.run([docker, "compose", "-f", str(compose_file), "config", "-q"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
