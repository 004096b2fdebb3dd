"""Detached background processes with a pid file and a log file under `.local/`.

Services outlive the `make up` that started them, so each one is started in its own
session, its pid kept in `.local/run/<name>.pid` and its output in `.local/logs/<name>.log`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from infra.settings import get_settings


def pid_file(name: str) -> Path:
    return get_settings().run_dir / f"{name}.pid"


def log_file(name: str) -> Path:
    return get_settings().logs_dir / f"{name}.log"


def running_pid(name: str) -> int | None:
    path = pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        pass
    # A zombie still answers kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists() and stat.read_text().split()[2] == "Z":
        path.unlink(missing_ok=True)
        return None
    return pid


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `argv` detached; return its pid. Output is appended to the service log."""
    s = get_settings()
    s.run_dir.mkdir(parents=True, exist_ok=True)
    s.logs_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_file(name), "ab")  # noqa: SIM115 - handed to the child
    log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
    log.flush()
    proc = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=str(cwd) if cwd else None,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    log.close()
    pid_file(name).write_text(str(proc.pid))
    return proc.pid


def run_module(module: str, *args: str, env: Mapping[str, str] | None = None,
               timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m module args` from the repository (this interpreter), its output
    captured: how infra asks the application something (it imports nothing from it)."""
    from infra.settings import REPO_ROOT

    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=str(REPO_ROOT), capture_output=True,
        text=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False)


def stop(name: str, timeout: float = 30.0) -> bool:
    """SIGTERM the process group, then SIGKILL after `timeout`. True if it was running."""
    pid = running_pid(name)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file(name).unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        # Reap our own child if it is one, so it does not linger as a zombie.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `check` until true; fail early if `alive` says the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: the process exited; see its log")
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")
