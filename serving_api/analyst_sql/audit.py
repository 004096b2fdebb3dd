"""One JSON line per analyst query in `.local/logs/analyst-sql.log` (the settings' logs
directory): who ran what, how it ended, how many rows in how long. Writing it never fails
the query (a full disk is the log's problem, not the analyst's)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.settings import get_settings

LOG_NAME = "analyst-sql.log"
MAX_SQL_CHARS = 10_000
_lock = threading.Lock()
_log = logging.getLogger("serving_api.analyst_sql")


def log_path() -> Path:
    return get_settings().logs_dir / LOG_NAME


def record(*, user_id: Any, role: str, sql: str, fmt: str, outcome: str,
           rows: int | None = None, truncated: bool | None = None,
           elapsed_ms: int | None = None) -> None:
    entry = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "user_id": str(user_id) if user_id else None, "role": role, "format": fmt,
        "outcome": outcome, "rows": rows, "truncated": truncated, "elapsed_ms": elapsed_ms,
        "sql_sha256": hashlib.sha256(sql.encode()).hexdigest(),
        "sql": sql[:MAX_SQL_CHARS],
    }
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    try:
        path = log_path()
        with _lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(line)
    except OSError:
        _log.warning("could not write the analyst SQL audit line: %s", line.strip())
