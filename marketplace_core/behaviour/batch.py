"""Reading a `POST /events` body: never a 500, whatever bytes arrive.

`parse_batch(body, max_events)` returns the list of events (each any JSON value; the
per-event rules judge them) or raises `BatchError` with a stable code:

* 400 INVALID_BATCH — not JSON at all (also: NUL bytes or other garbage outside strings);
* 422 INVALID_BATCH — JSON, but not `{"events": [...]}`;
* 413 BATCH_TOO_LARGE — more than `max_events` events (the body size is checked before).

Odd encodings: a UTF-8 BOM is skipped. orjson (fast, strict) reads the body first; if it
refuses (invalid UTF-8 inside a string, an integer beyond 64 bits, NaN), the standard
library reads it again with `surrogateescape`, so one bad event does not sink the batch:
its invalid bytes become lone surrogates that the rules reject (INVALID_EVENT, "not valid
UTF-8") and that `raw_event_bytes` turns back into the exact bytes sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from marketplace_core.errors import ErrorCode

BOM = b"\xef\xbb\xbf"


class BatchError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = str(code)
        self.message = message


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        raise BatchError(400, ErrorCode.INVALID_BATCH, "the body is not JSON") from None


def parse_batch(body: bytes, max_events: int) -> list[Any]:
    if body.startswith(BOM):
        body = body[len(BOM):]
    if not body.strip():
        raise BatchError(400, ErrorCode.INVALID_BATCH, "the body is empty")
    doc = _loads(body)
    if type(doc) is not dict:
        raise BatchError(422, ErrorCode.INVALID_BATCH, 'the body must be {"events": [...]}')
    events = doc.get("events")
    if type(events) is not list:
        raise BatchError(422, ErrorCode.INVALID_BATCH, '"events" must be an array')
    if len(events) > max_events:
        raise BatchError(413, ErrorCode.BATCH_TOO_LARGE,
                         f"{len(events)} events in one batch; at most {max_events}")
    return events


# Strings (with their escapes) and structural characters: enough to cut the top-level
# "events" array into its elements without parsing them again.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.S)


def element_bytes(body: bytes) -> list[bytes] | None:
    """The exact bytes of each element of the body's top-level "events" array, or None if
    they cannot be cut out (then callers re-serialise the parsed value)."""
    if body.startswith(BOM):
        body = body[len(BOM):]
    depth = 0
    last_key: bytes | None = None
    inside = False
    start = 0
    out: list[bytes] = []
    for m in _TOKENS.finditer(body):
        tok = m.group()
        first = tok[:1]
        if first == b'"':
            if depth == 1 and not inside:
                last_key = tok
            continue
        if first in (b"[", b"{"):
            if depth == 1 and first == b"[" and last_key == b'"events"' and not out:
                inside, start = True, m.end()
            depth += 1
        elif first in (b"]", b"}"):
            depth -= 1
            if inside and depth == 1:
                piece = body[start:m.start()].strip()
                if piece:
                    out.append(piece)
                return out
        elif inside and depth == 2:  # a comma between elements
            out.append(body[start:m.start()].strip())
            start = m.end()
    return None


def raw_event_bytes(event: Any) -> bytes:
    """An event re-serialised (when its exact bytes could not be cut out): invalid UTF-8
    that was read as lone surrogates comes back as the original bytes."""
    try:
        return orjson.dumps(event)
    except TypeError:
        text = json.dumps(event, ensure_ascii=False, allow_nan=True)
        return text.encode("utf-8", "surrogateescape")
