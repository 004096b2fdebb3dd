"""How a POS event is signed: HMAC-SHA256 with the device secret over canonical bytes.

Terminal and platform must produce the same bytes from the same event whether it holds
strings (what the terminal builds) or decoded Avro values (UUID, Decimal, datetime), so
the canonical form is defined on values, not on any wire encoding:

* the record without its `signature` field, as JSON with keys sorted and no whitespace,
  UTF-8, non-ASCII kept as is;
* Decimal → string with exactly 2 decimals ("1500.00"); UUID → lowercase string;
  datetime → integer epoch milliseconds (floor, as Avro timestamp-millis stores it);
  None → null; lists and nested records the same way, recursively.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from platform_common.money import format_money

SIGNATURE_FIELD = "signature"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return (value - _EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot sign a {type(value).__name__} (floats are never money)")


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != SIGNATURE_FIELD}
    return json.dumps(_plain(body), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(record: Mapping[str, Any], secret: str | bytes) -> str:
    """Hex HMAC-SHA256 of the record's canonical bytes."""
    return hmac.new(_key(secret), canonical_bytes(record), hashlib.sha256).hexdigest()


def verify(record: Mapping[str, Any], secret: str | bytes, signature: str | None) -> bool:
    """Constant-time check of `signature` (a missing one never verifies)."""
    if not signature:
        return False
    return hmac.compare_digest(sign(record, secret), signature)
