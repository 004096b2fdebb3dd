"""The platform's own long-running processes: the serving API (which owns the embedded
warehouse) and the Dagster UI/daemon. Both run from this repo's virtualenv."""

from __future__ import annotations

import sys
from abc import abstractmethod
from pathlib import Path

import httpx

from infra import process
from infra.services.base import Health, Service, probe
from infra.settings import REPO_ROOT, get_settings


class _HttpApp(Service):
    is_app = True
    health_path = "/health"

    def __init__(self) -> None:
        self.s = get_settings()

    @property
    @abstractmethod
    def url(self) -> str:
        """Base URL of the app."""

    def install(self) -> None:  # installed with the Python package
        pass

    def health(self) -> Health:
        try:
            r = httpx.get(self.url + self.health_path, timeout=3)
            return Health(r.status_code == 200, f"{self.url} HTTP {r.status_code}")
        except httpx.HTTPError as exc:
            return Health(False, f"{self.url} {type(exc).__name__}")


class ServingApi(_HttpApp):
    name = "serving-api"
    ready_timeout = 90.0

    @property
    def url(self) -> str:
        return self.s.serving_api_url

    def launch(self) -> None:
        process.spawn(
            self.name,
            [sys.executable, "-m", "uvicorn", "serving_api.main:app",
             "--host", self.s.bind_host, "--port", str(self.s.serving_api_port),
             "--workers", "1"],
            cwd=REPO_ROOT,
        )


class CoreApi(_HttpApp):
    """The transactional core's API (marketplace_core.api) with its background sweeper."""

    name = "core-api"
    ready_timeout = 60.0

    @property
    def url(self) -> str:
        return self.s.core_api_url

    def launch(self) -> None:
        process.spawn(
            self.name,
            [sys.executable, "-m", "uvicorn", "marketplace_core.api.main:app",
             "--host", self.s.bind_host, "--port", str(self.s.core_api_port),
             "--workers", "1", "--no-access-log"],
            cwd=REPO_ROOT,
        )


class OutboxRelay(Service):
    """Publishes the core's outbox to Kafka. Healthy = running and holding leadership."""

    name = "outbox-relay"
    is_app = True
    ready_timeout = 60.0

    def install(self) -> None:
        pass

    def launch(self) -> None:
        process.spawn(self.name, [sys.executable, "-m", "marketplace_core.outbox.relay"],
                      cwd=REPO_ROOT)

    def health(self) -> Health:
        return probe("marketplace_core.health", self.name)


class PosIngest(Service):
    """Applies POS till events and heartbeats from Kafka to the core (pos.sales,
    pos.heartbeats → inventory, dead letters). Healthy = running and recording liveness."""

    name = "pos-ingest"
    is_app = True
    ready_timeout = 60.0

    def install(self) -> None:
        pass

    def launch(self) -> None:
        process.spawn(self.name, [sys.executable, "-m", "marketplace_core.pos.consumer"],
                      cwd=REPO_ROOT)

    def health(self) -> Health:
        if self.pid() is None:
            return Health(False, "not running")
        return probe("marketplace_core.health", self.name)


class LakeLanding(Service):
    """Lands every catalog topic from Kafka into Delta continuously (one Spark query for
    all topics; pipelines.landing). Healthy = running and its query reported progress
    within the last few trigger intervals (the status file it rewrites every 5 s)."""

    name = "lake-landing"
    is_app = True
    ready_timeout = 300.0  # a JVM, the jars, and the first tables created

    def install(self) -> None:
        pass

    def launch(self) -> None:
        status_file().unlink(missing_ok=True)
        process.spawn(self.name, [sys.executable, "-m", "pipelines.landing"], cwd=REPO_ROOT)

    def health(self) -> Health:
        import json
        import time

        if self.pid() is None:
            return Health(False, "not running")
        try:
            status = json.loads(status_file().read_text())
        except (OSError, ValueError):
            return Health(False, "starting (no query status yet)")
        age = time.time() - float(status["checked_at"])
        ok = bool(status["active"]) and age < 60
        state = "active" if status["active"] else "stopped"
        return Health(ok, f"{status.get('queries')} queries {state}, last batch at "
                          f"{status.get('batch_at')}, status {age:.0f}s old")


class MediaWorker(Service):
    """Processes uploaded post media off the request path (marketplace_core.social.
    media_worker): checks the real type, makes thumbnails, reads video duration with
    ffprobe. ffmpeg comes from Debian's packages."""

    name = "media-worker"
    is_app = True
    ready_timeout = 30.0

    def install(self) -> None:
        import os
        import shutil
        import subprocess

        if shutil.which("ffprobe"):
            return
        print("  installing ffmpeg from Debian's packages", flush=True)
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "ffmpeg"],
                       check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})

    def launch(self) -> None:
        process.spawn(self.name, [sys.executable, "-m", "marketplace_core.social.media_worker"],
                      cwd=REPO_ROOT)

    def health(self) -> Health:
        import shutil

        if self.pid() is None:
            return Health(False, "not running")
        return Health(True, "running" + ("" if shutil.which("ffprobe")
                                          else "; ffprobe missing: videos are refused"))


class NotificationsWorker(Service):
    """Delivers notify.* events (marketplace_core.notifications.worker): preferences,
    dedup, rate limits, retries and fallback, e-mail to Mailpit, push and SMS to their
    simulators. Healthy = running and its loop reported within the last 30 s."""

    name = "notifications-worker"
    is_app = True
    ready_timeout = 60.0

    def install(self) -> None:
        pass

    def launch(self) -> None:
        process.spawn(self.name, [sys.executable, "-m", "marketplace_core.notifications.worker"],
                      cwd=REPO_ROOT)

    def health(self) -> Health:
        if self.pid() is None:
            return Health(False, "not running")
        return probe("marketplace_core.health", self.name)


def status_file() -> Path:
    """Written by pipelines.landing (same settings, same path)."""
    return get_settings().run_dir / "lake-landing.status.json"


class DagsterUI(_HttpApp):
    name = "dagster"
    ready_timeout = 180.0
    health_path = "/server_info"

    @property
    def url(self) -> str:
        return f"http://{self.s.bind_host}:{self.s.dagster_port}"

    def health(self) -> Health:
        """Up, and the code location loaded (a broken definition is not healthy)."""
        query = ("{ workspaceOrError { ... on Workspace { locationEntries { name "
                 "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
        try:
            r = httpx.post(f"{self.url}/graphql", json={"query": query}, timeout=5)
            entries = r.json()["data"]["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            return Health(False, f"{self.url} {type(exc).__name__}")
        for entry in entries:
            loaded = entry["locationOrLoadError"]
            if loaded is None:
                return Health(False, f"{entry['name']} still loading")
            if loaded["__typename"] == "PythonError":
                return Health(False, f"{entry['name']}: {loaded['message'][:200]}")
        return Health(bool(entries), f"{self.url} ({len(entries)} code location(s) loaded)")

    def launch(self) -> None:
        home = self.s.local_dir / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        process.spawn(
            self.name,
            [sys.executable, "-m", "dagster", "dev", "-m", "orchestration.definitions",
             "-h", self.s.bind_host, "-p", str(self.s.dagster_port)],
            env={"DAGSTER_HOME": str(home)},
            cwd=REPO_ROOT,
        )
