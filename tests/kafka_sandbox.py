"""A throwaway Kafka broker of a test's own: other loopback ports, a temporary local dir.

Started and stopped exactly as `make up` / `make down` do it (`python -m infra up kafka`,
`python -m infra down kafka`, so with the warm-up of `Kafka.after_start`), but with
PLATFORM_LOCAL_DIR pointing at a temporary directory (its `opt/` a link to the installed
jars) and KAFKA_PORT / KAFKA_CONTROLLER_PORT on free ports: the shared broker, its pid file
and its data are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from infra.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SandboxBroker:
    def __init__(self, root: Path, real_local_dir: Path) -> None:
        self.root = root
        self.local_dir = root / "local"
        (self.local_dir / "opt").mkdir(parents=True, exist_ok=True)
        kafka_opt = self.local_dir / "opt" / "kafka"
        if not kafka_opt.exists():
            kafka_opt.symlink_to(real_local_dir / "opt" / "kafka")
        self.port = free_port()
        self.controller_port = free_port()
        self.last_output = ""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """What a process of ours needs to use this broker (and no other)."""
        return {"PLATFORM_LOCAL_DIR": str(self.local_dir), "KAFKA_PORT": str(self.port),
                "KAFKA_CONTROLLER_PORT": str(self.controller_port),
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "KAFKA_HEAP": "256m"}

    def _infra(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env(), "PYTHONUNBUFFERED": "1"}
        env.pop("KAFKA_BOOTSTRAP_SERVERS")  # managed: infra starts and stops it
        return subprocess.run([sys.executable, "-m", "infra", *args], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def up(self, timeout: float = 150.0) -> float:
        """`python -m infra up kafka` (start, topics, warm-up); returns the seconds it took."""
        started = time.monotonic()
        done = self._infra("up", "kafka", timeout=timeout)
        self.last_output = done.stdout + done.stderr
        if done.returncode != 0:
            raise RuntimeError(f"sandbox broker did not start:\n{self.last_output[-3000:]}")
        return time.monotonic() - started

    def down(self) -> None:
        self._infra("down", "kafka", timeout=60)

    def wipe(self) -> None:
        """A freshly installed broker next time: no data, no pid, no logs."""
        for sub in ("data", "run", "logs"):
            shutil.rmtree(self.local_dir / sub, ignore_errors=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.down()
        shutil.rmtree(self.root, ignore_errors=True)
