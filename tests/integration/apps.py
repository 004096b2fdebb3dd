"""Running the platform's HTTP apps as real processes on free loopback ports, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

from infra.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_app(app: str, port_setting: str, env: dict[str, str], log: Path,
                *, workers: int = 1) -> Iterator[str]:
    """`app` (module:attribute) under uvicorn on a free port; yields its base URL once
    `/health` answers, and stops it afterwards. `port_setting` is the settings variable
    that tells the app its own port (it may call itself, e.g. the PSP webhook)."""
    port = free_port()
    full_env = {**os.environ, **env, port_setting: str(port)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            cwd=REPO_ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{app} exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{app} did not become healthy")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def serving_api(env: dict[str, str], log: Path) -> AbstractContextManager[str]:
    return uvicorn_app("serving_api.main:app", "SERVING_API_PORT", env, log)


def core_api(env: dict[str, str], log: Path, *, workers: int = 2) -> AbstractContextManager[str]:
    """The core API (`marketplace_core.api`) against `env`'s POSTGRES_DSN."""
    return uvicorn_app("marketplace_core.api.main:app", "CORE_API_PORT", env, log,
                       workers=workers)
