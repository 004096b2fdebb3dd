"""No personal data in logs: e-mail addresses, phone numbers, bearer tokens and JWTs,
device tokens, and codes or secrets written as `name=value` are masked in every record a
process of ours logs.

`install()` wraps the process's log record factory, so the masking applies to every
logger and handler (ours, uvicorn's, libraries') without configuring each one, and before
any handler sees the record. The message template and its string arguments are masked
(arguments stay arguments, so formatters that read them, such as uvicorn's access log,
still work); any other argument is replaced by its masked text. An exception's traceback
is formatted once, masked, and kept as the record's `exc_text` (a database error's
DETAIL line repeats the values of the row, e-mails included).

Every service of ours calls `install()` at start: both APIs in `create_app`, the outbox
relay, the POS ingest, the media worker and the behaviour replay in their `main`, the
Dagster code location at import.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

# (pattern, replacement), applied in order: tokens before e-mails (a JWT has no "@") and
# `name=value` secrets before phone numbers (a code is digits too).
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [token]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[jwt]"),
    (re.compile(r"\bpos_[A-Za-z0-9_-]{16,}"), "[device-token]"),
    (re.compile(r"\bfernet:[A-Za-z0-9_=-]+"), "[sealed]"),
    # password=..., "refresh_token": "...", secret: ... (any value)
    (re.compile(r"""(?ix)
        (["']?\b[a-z_]*(?:password|passwd|secret|token|totp|otp|pepper|api_?key)\b["']?
         \s*[:=]\s*)
        (?:"[^"]*"|'[^']*'|[^\s,;&)}\]]+)"""), r"\1[redacted]"),
    # code=123456, "delivery_code": "123456" (digits only: `code=INVALID_TOTP` and
    # `status_code=200` stay readable)
    (re.compile(r"""(?ix)(["']?\b[a-z_]*code\b["']?\s*[:=]\s*)(["']?)\d{4,8}\2(?!\d)"""),
     r"\1\2[redacted]\2"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    # Kyrgyz numbers in any usual spelling (+996 555 12-34-56, 996555123456, 0555 123 456)
    # and any other international number.
    (re.compile(r"(?<![\w+.])(?:\+?996|0)[\s-]?\(?\d{3}\)?(?:[\s-]?\d){6}(?!\d)"), "[phone]"),
    (re.compile(r"(?<![\w+.])\+\d(?:[\s-]?\d){8,14}(?!\d)"), "[phone]"),
)

_PLAIN = (int, float, Decimal, bool, type(None))
_MARK = "_platform_redacting"


def redact(text: str) -> str:
    """`text` with personal data and secrets masked."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, _PLAIN):
        return value
    return redact(str(value))


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask one record in place (its message, arguments and exception text)."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif record.msg is not None and not isinstance(record.msg, _PLAIN):
        record.msg = redact(str(record.msg))
    args = record.args
    if isinstance(args, Mapping):
        record.args = {k: _arg(v) for k, v in args.items()}
    elif isinstance(args, tuple):
        record.args = tuple(_arg(v) for v in args)
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


def install() -> None:
    """Mask every record this process creates from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, _MARK, False):
        return
    inner: Callable[..., logging.LogRecord] = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(inner(*args, **kwargs))

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)


def installed() -> bool:
    return bool(getattr(logging.getLogRecordFactory(), _MARK, False))
