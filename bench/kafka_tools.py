"""Kafka for the benchmarks, defined once.

* `kafka_reason()`: None if Kafka and the schema registry are usable, else why not;
* `skipped(result, reason)`: a benchmark without its Kafka says so in its result and stops;
* `temporary_topics(...)`: fresh topics for one run, deleted afterwards, so the lake and a
  running consumer never see bench traffic;
* `kafka_worker(...)`: a Kafka worker of the core (the outbox relay, the POS ingest) as a
  child process in its own session, logging to `logs/<name>`, stopped on exit.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from bench.results import Result
from infra.settings import REPO_ROOT, get_settings
from pos_producer import wire
from schemas.registry import registry_client
from schemas.topics import POS_SALES


def kafka_reason() -> str | None:
    """None if Kafka and the schema registry answer and know pos.sales, else why not."""
    try:
        admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
        topics = admin.list_topics(timeout=5).topics
        if POS_SALES.name not in topics:
            return f"topic {POS_SALES.name} does not exist (run `python -m infra up --no-apps`)"
        wire.registered_schema_id(registry_client(), POS_SALES)
    except Exception as exc:  # any client failure means: not available
        return f"Kafka or the schema registry not usable: {exc}"
    return None


def skipped(result: Result, reason: str | None) -> bool:
    """True if `reason` (from `kafka_reason()` or the like) says the benchmark cannot run:
    the result then carries the reason as a note and `targets.met = False`."""
    if reason is None:
        return False
    result.notes.append(f"skipped: {reason}")
    result.targets = {"met": False}
    print(f"    skipped: {reason}", flush=True)
    return True


@contextmanager
def temporary_topics(*prefixes: str, partitions: int = POS_SALES.partitions
                     ) -> Iterator[list[str]]:
    """Fresh topics `<prefix>.<random>` (one per prefix), deleted on exit."""
    admin = AdminClient({"bootstrap.servers": get_settings().kafka_bootstrap_servers})
    suffix = secrets.token_hex(4)
    names = [f"{p}.{suffix}" for p in prefixes]
    for future in admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    ).values():
        future.result(timeout=30)
    try:
        time.sleep(1.0)  # metadata propagation before the first produce/subscribe
        yield names
    finally:
        for future in admin.delete_topics(names).values():
            try:
                future.result(timeout=30)
            except Exception as exc:  # a leftover temp topic is harmless; say so
                print(f"    could not delete a temporary topic: {exc}", flush=True)


@contextmanager
def kafka_worker(module: str, args: Sequence[str], log_name: str,
                 env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m <module> <args>` from the repository root (or `cwd`: `-m` imports from
    there first), in its own session, output appended to `logs/<log_name>`; on exit
    SIGTERM to its session, SIGKILL after 30 s."""
    log = get_settings().logs_dir / log_name
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=cwd or REPO_ROOT,
            env=None if env is None else dict(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
