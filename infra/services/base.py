"""What every locally managed service offers to `infra` (install, start, health, stop)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from infra import process


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def probe(module: str, *args: str, timeout: float = 60.0) -> Health:
    """A health answer from the application: `python -m module args` prints one JSON line
    `{"ok": bool, "detail": str}` (run as a child: infra imports nothing from the app)."""
    import json
    import subprocess

    try:
        done = process.run_module(module, *args, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Health(False, f"{module}: no answer within {timeout:.0f}s")
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
        return Health(bool(answer["ok"]), str(answer["detail"]))
    except (IndexError, ValueError, KeyError, TypeError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Health(False, f"{module} exit {done.returncode}: {tail[:200]}")


class Service(ABC):
    #: short name: pid file, log file and CLI argument
    name: str
    #: false when settings point this part at an external cluster
    managed: bool = True

    @abstractmethod
    def install(self) -> None:
        """Fetch and build what is missing; a no-op when already installed."""

    @abstractmethod
    def launch(self) -> None:
        """Start the process (assumes installed and not running)."""

    @abstractmethod
    def health(self) -> Health:
        """A real probe of the running service (a query, a request)."""

    def after_start(self) -> None:  # noqa: B027 - optional hook, most services need none
        """One-off provisioning once healthy (users, buckets, databases); idempotent."""

    ready_timeout: float = 120.0

    def pid(self) -> int | None:
        return process.running_pid(self.name)

    def start(self) -> None:
        """Idempotent: an already healthy service is left alone."""
        if self.managed and self.pid() is None:
            self.launch()
            process.wait_until(
                lambda: self.health().ok,
                timeout=self.ready_timeout,
                what=self.name,
                alive=lambda: self.pid() is not None,
            )
        elif not self.managed or not self.health().ok:
            process.wait_until(lambda: self.health().ok, timeout=self.ready_timeout, what=self.name)
        self.after_start()

    def stop(self) -> bool:
        return process.stop(self.name) if self.managed else False
