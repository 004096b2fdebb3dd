"""Prometheus (issue 11 §6, seed 000 §19): scrapes every process of ours and evaluates the
alert rules of `infra/prometheus/rules/`.

Debian packages it (`prometheus`, with `promtool`): installed with apt when missing, like
ffmpeg for the media worker. Started by `make up` after the apps, with the configuration
generated from the settings under `.local/prometheus/`, its data in
`.local/data/prometheus`, bound to PLATFORM_BIND_HOST:PROMETHEUS_PORT. Healthy = `/-/ready`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx

from infra import process
from infra.prometheus.config import render
from infra.services.base import Health, Service
from infra.settings import REPO_ROOT, get_settings

APT_PACKAGE = "prometheus"  # ships /usr/bin/prometheus and /usr/bin/promtool


def binary(name: str = "prometheus") -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                  else None)


def install_from_apt() -> None:
    """Debian's package; its maintainer scripts do not start a second server here (no
    systemd in the stack's machines, and invoke-rc.d's policy refuses)."""
    if binary("prometheus") and binary("promtool"):
        return
    print("  installing prometheus from Debian's packages", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", APT_PACKAGE],
                   check=True, env=env)


def config_file() -> Path:
    return get_settings().local_dir / "prometheus" / "prometheus.yml"


def write_config() -> Path:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path


class Prometheus(Service):
    name = "prometheus"
    is_app = True  # started with the apps it scrapes (`make up`), not by `--no-apps`
    ready_timeout = 60.0

    def __init__(self) -> None:
        self.s = get_settings()

    @property
    def url(self) -> str:
        return self.s.prometheus_url

    def install(self) -> None:
        install_from_apt()

    def launch(self) -> None:
        data = self.s.data_dir / "prometheus"
        data.mkdir(parents=True, exist_ok=True)
        process.spawn(
            self.name,
            [binary("prometheus") or "prometheus",
             f"--config.file={write_config()}",
             f"--storage.tsdb.path={data}",
             f"--storage.tsdb.retention.time={self.s.prometheus_retention}",
             f"--web.listen-address={self.s.bind_host}:{self.s.prometheus_port}",
             "--web.enable-lifecycle"],  # POST /-/reload after a settings change
            cwd=REPO_ROOT,
        )

    def after_start(self) -> None:
        """A server left running from before a settings change: rewrite its configuration
        and have it reload (idempotent when nothing changed)."""
        path = config_file()
        if path.exists() and path.read_text() == render():
            return
        write_config()
        try:
            httpx.post(f"{self.url}/-/reload", timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            print(f"  prometheus: configuration not reloaded ({exc}); restart it", flush=True)

    def health(self) -> Health:
        try:
            r = httpx.get(f"{self.url}/-/ready", timeout=3)
        except httpx.HTTPError as exc:
            return Health(False, f"{self.url} {type(exc).__name__}")
        return Health(r.status_code == 200, f"{self.url} HTTP {r.status_code}")
