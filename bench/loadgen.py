"""Load: the HTTP load generator, the in-process baseline runner, and the API under test.

* `http_load()` runs `bench/loadgen` (a small Go program, standard library only, built
  into `.local/bin/bench-loadgen` on first use) over a file of URLs, at a fixed rate or
  closed-loop with N workers. A Python client on this 2-core machine would measure
  itself, not the server; the Go client costs a fraction of a core.
* `pg_load()` runs the same generator in its Postgres mode (`-pg`): SQL statements on
  Postgres directly, same scheduler and clock (the baseline of an HTTP read path).
* `baseline_load()` calls a Python function (the same service function the API handler
  calls, in the same `transaction(pool)`) from N threads for a while: the baseline.
* `core_api()` runs the real core API as `uvicorn marketplace_core.api.main:app
  --workers 2` on a free loopback port against the bench database.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from psycopg_pool import ConnectionPool

from bench.results import latency_summary
from infra.settings import REPO_ROOT, get_settings

LOADGEN_SOURCE = Path(__file__).resolve().parent / "loadgen"
# Rebuilt when the source is newer than the binary.
LOADGEN_BINARY = get_settings().local_dir / "bin" / "bench-loadgen"


def _go() -> str:
    return shutil.which("go") or "/usr/local/go/bin/go"  # Go's own tarball layout


def build_loadgen() -> Path:
    source_mtime = max(p.stat().st_mtime for p in LOADGEN_SOURCE.iterdir())
    if LOADGEN_BINARY.exists() and LOADGEN_BINARY.stat().st_mtime >= source_mtime:
        return LOADGEN_BINARY
    print("  building bench/loadgen (Go, standard library only)", flush=True)
    LOADGEN_BINARY.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [_go(), "build", "-o", str(LOADGEN_BINARY), "."], cwd=LOADGEN_SOURCE, check=True,
        env={**os.environ, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-buildvcs=false"})
    return LOADGEN_BINARY


def http_load(urls: Sequence[str], *, seconds: float, rate: float = 0, workers: int = 32,
              header: str | None = None, timeout_s: float = 10,
              stop_at_deadline: bool = False) -> dict[str, Any]:
    """Request `urls` round-robin for `seconds`: at `rate` per second, or (rate 0) as fast
    as `workers` concurrent clients can. Returns the generator's JSON summary: requests,
    succeeded, errors, status counts, throughput (2xx/s), sent_rate, latency_ms.
    `header` ("Name: value") is sent with every request. At a fixed rate the generator
    catches up on sends it could not make in time (so a saturated server stretches the
    run); `stop_at_deadline` stops at `seconds` instead."""
    extra = [*(["-header", header] if header else []),
             *(["-stop-at-deadline"] if stop_at_deadline else [])]
    return _loadgen(urls, seconds=seconds, rate=rate, workers=workers, timeout_s=timeout_s,
                    extra=extra)


def pg_load(statements: Sequence[str], dsn_url: str, *, seconds: float, rate: float = 0,
            workers: int = 32, timeout_s: float = 10, stop_at_deadline: bool = False
            ) -> dict[str, Any]:
    """The same load generator on Postgres directly (`-pg`): each of `statements` (one
    line of SQL each) round-robin on `workers` connections (a `postgresql://` URL), at
    `rate` or closed loop; the same summary (a statement that returns counts as a 2xx)."""
    if any("\n" in s for s in statements):
        raise ValueError("one SQL statement per line")
    return _loadgen(statements, seconds=seconds, rate=rate, workers=workers,
                    timeout_s=timeout_s, extra=["-pg", dsn_url, *(
                        ["-stop-at-deadline"] if stop_at_deadline else [])])


def _loadgen(targets: Sequence[str], *, seconds: float, rate: float, workers: int,
             timeout_s: float, extra: list[str]) -> dict[str, Any]:
    binary = build_loadgen()
    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as f:
        f.write("\n".join(targets) + "\n")
        path = f.name
    try:
        done = subprocess.run(
            [str(binary), "-targets", path, "-duration", f"{seconds}s",
             "-rate", str(rate), "-workers", str(workers), "-timeout", f"{timeout_s}s",
             *extra],
            check=True, capture_output=True, text=True, timeout=seconds + timeout_s + 60)
    finally:
        os.unlink(path)
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def baseline_load(call: Callable[[random.Random], object], *, seconds: float, threads: int
                  ) -> dict[str, Any]:
    """Call `call(rng)` from `threads` threads, closed loop, for `seconds`; the same
    summary shape as `http_load` (errors are counted, not raised)."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    first_error: list[str] = []
    deadline = 0.0  # set when every thread is ready (read through the closure)
    start_gate = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        rng = random.Random(index)
        start_gate.wait()
        mine = latencies[index]
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                call(rng)
            except Exception as exc:  # measured, reported, not fatal
                errors[index] += 1
                if not first_error:
                    first_error.append(repr(exc))
                continue
            mine.append((time.perf_counter() - t0) * 1000)

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    started = time.perf_counter()
    deadline = started + seconds
    start_gate.wait()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    merged = [x for part in latencies for x in part]
    return {
        "mode": "max", "workers": threads, "requests": len(merged) + sum(errors),
        "succeeded": len(merged), "errors": sum(errors),
        **({"error_sample": first_error[0]} if first_error else {}),
        "duration_s": round(elapsed, 3), "throughput": round(len(merged) / elapsed, 1),
        "latency_ms": latency_summary(merged),
    }


@contextmanager
def baseline_pool(dsn: str, size: int) -> Iterator[ConnectionPool]:
    pool = ConnectionPool(dsn, min_size=size, max_size=size, name="bench-baseline", open=False)
    pool.open(wait=True, timeout=30)
    try:
        yield pool
    finally:
        pool.close()


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def core_api(dsn: str, *, workers: int = 2, env: dict[str, str] | None = None
             ) -> Iterator[str]:
    """The real core API (uvicorn, `workers` processes) on the bench database; yields its
    base URL. Access logging is off (it would be the loudest cost) and the sweeper is
    pushed to once an hour so it does not run during a measurement; `env` adds settings."""
    host = get_settings().bind_host
    port = free_port(host)
    env = {**os.environ, "POSTGRES_DSN": dsn, "CORE_SWEEP_INTERVAL_SECONDS": "3600",
           **(env or {})}
    log = get_settings().logs_dir / "bench-core-api.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "marketplace_core.api.main:app",
             "--host", host, "--port", str(port), "--workers", str(workers),
             "--no-access-log", "--log-level", "warning"],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://{host}:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        _stop(proc)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"core API exited with {proc.returncode}; see logs/"
                               "bench-core-api.log")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"core API at {base} not healthy after {timeout}s")


def _stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM this process's own session (uvicorn's workers are in it), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
