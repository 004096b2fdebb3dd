"""Exposure events: "this unit was served a page under this arm", on
`experiments.exposures` (Avro, the registry's schema, acks=all).

`ExposureLog` (one per API process, in `app.state.exposure_log`):
- remembers, in a bounded in-process LRU, which (experiment, unit) it has already
  recorded on the current Asia/Bishkek day, with the decision taken then (exposed, or
  excluded because the account opted out of analytics). Only the first page of the day
  costs anything; the lake's readout dedupes the copies other processes (or a restart)
  publish, by (experiment, arm, unit) and the earliest exposure;
- publishes off the request's path: `record()` puts the event on a bounded queue and a
  sender thread produces batches through behaviour.kafka's Sender/Encoder/schema_header
  (the intake's producer: idempotent, acks=all). Kafka or the registry being down, a full
  queue or a refused batch never fails a feed request: it is logged (counts only, no unit
  ids) and counted in `stats`, and the failed units are forgotten so their next page
  retries.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson

from marketplace_core.behaviour.kafka import Encoder, Sender, schema_header
from marketplace_core.experiments.registry import UnitKind
from schemas.registry import registry_client
from schemas.topics import EXPERIMENTS_EXPOSURES

log = logging.getLogger("marketplace_core.experiments")

BISHKEK = timezone(timedelta(hours=6))  # Asia/Bishkek: UTC+6 all year, no DST
EXPOSED, EXCLUDED = "exposed", "excluded"
CACHE_SIZE = 200_000  # (experiment, unit) pairs remembered per process (~40 MB at most)
QUEUE_SIZE = 10_000
BATCH = 500


def business_day(at: datetime) -> date:
    return at.astimezone(BISHKEK).date()


@dataclass(frozen=True)
class Exposure:
    experiment_key: str
    arm: str
    unit_kind: UnitKind
    unit: str
    surface: str
    occurred_at: datetime
    context: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        """The Avro record (exposure.avsc)."""
        user = self.unit_kind is UnitKind.USER
        return {
            "event_id": str(uuid.uuid4()),
            "occurred_at": int(self.occurred_at.timestamp() * 1000),
            "experiment_key": self.experiment_key,
            "arm": self.arm,
            "unit_type": self.unit_kind.value,
            "user_pseudo_id": self.unit if user else None,
            "session_id": None if user else self.unit,
            "surface": self.surface,
            "context": (orjson.dumps(self.context).decode()
                        if self.context is not None else None),
        }


class ExposureLog:
    """Thread-safe; lazily connected (the API starts while Kafka or the registry is down)."""

    def __init__(self, *, topic: str | None = None, bootstrap: str | None = None,
                 delivery_timeout_s: float | None = None, cache_size: int = CACHE_SIZE,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.topic = topic or EXPERIMENTS_EXPOSURES.name
        self._bootstrap = bootstrap
        self._delivery_timeout_s = delivery_timeout_s
        self._cache_size = cache_size
        self._seen: OrderedDict[tuple[str, str], tuple[date, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Exposure] = queue.Queue(queue_size)
        self._sender: Sender | None = None
        self._encode: Encoder | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending = 0  # enqueued, not yet acknowledged or failed
        self._idle = threading.Condition(self._lock)
        self.stats = {"published": 0, "failed": 0, "dropped": 0}

    # --- the request's side (no I/O) -----------------------------------------------------

    def decision(self, experiment_key: str, unit: str, at: datetime) -> str | None:
        """What was decided for this unit today (EXPOSED / EXCLUDED), None if nothing yet."""
        day = business_day(at)
        with self._lock:
            seen = self._seen.get((experiment_key, unit))
            if seen is None or seen[0] != day:
                return None
            self._seen.move_to_end((experiment_key, unit))
            return seen[1]

    def exclude(self, experiment_key: str, unit: str, at: datetime) -> None:
        """Remember for today that this unit is kept out (e.g. opted out of analytics)."""
        with self._lock:
            self._remember(experiment_key, unit, business_day(at), EXCLUDED)

    def record(self, exposure: Exposure) -> bool:
        """Queue the exposure if it is the unit's first of the day here; True if queued."""
        key = (exposure.experiment_key, exposure.unit)
        day = business_day(exposure.occurred_at)
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and seen[0] == day:
                return False
            self._remember(exposure.experiment_key, exposure.unit, day, EXPOSED)
            try:
                self._queue.put_nowait(exposure)
            except queue.Full:
                self._seen.pop(key, None)  # not published: the next page tries again
                self.stats["dropped"] += 1
                return False
            self._pending += 1
        self._ensure_thread()
        return True

    def _remember(self, experiment_key: str, unit: str, day: date, decision: str) -> None:
        key = (experiment_key, unit)
        self._seen[key] = (day, decision)
        self._seen.move_to_end(key)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)

    # --- the sender thread --------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="exposures",
                                                    daemon=True)
                    self._thread.start()

    def _connect(self) -> tuple[Sender, Encoder]:
        if self._encode is None:
            self._encode = Encoder(EXPERIMENTS_EXPOSURES,
                                   schema_header(registry_client(), EXPERIMENTS_EXPOSURES))
        if self._sender is None:
            self._sender = Sender(self._bootstrap, delivery_timeout_s=self._delivery_timeout_s)
        return self._sender, self._encode

    def _run(self) -> None:
        while not self._stop.is_set() or not self._queue.empty():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._publish(batch)

    def _publish(self, batch: list[Exposure]) -> None:
        ok = False
        try:
            sender, encode = self._connect()
            sender.send(self.topic, [(e.unit.encode(), encode(e.record())) for e in batch])
            ok = True
        except Exception as exc:  # KafkaUnavailable or anything: the thread must live on
            log.warning("experiments: %d exposure(s) not published: %s", len(batch),
                        type(exc).__name__)
        with self._lock:
            if ok:
                self.stats["published"] += len(batch)
            else:
                self.stats["failed"] += len(batch)
                for e in batch:  # forget them: the unit's next page publishes again
                    self._seen.pop((e.experiment_key, e.unit), None)
            self._pending -= len(batch)
            self._idle.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued is acknowledged or failed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sender is not None:
            self._sender.close()


_STATE_LOCK = threading.Lock()


def of_app(state: Any) -> ExposureLog:
    """The API process's exposure log, kept in `app.state.exposure_log` (made on first
    use; tests may put their own there first). Any router serving an experiment uses it,
    so the process has one producer thread and one LRU."""
    log: ExposureLog | None = getattr(state, "exposure_log", None)
    if log is None:
        with _STATE_LOCK:
            log = getattr(state, "exposure_log", None)
            if log is None:
                log = state.exposure_log = ExposureLog()
    return log
