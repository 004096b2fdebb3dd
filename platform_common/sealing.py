"""Secrets at rest: seal a short secret (a TOTP seed, a device signing secret, a push token,
an e-mail address) before it is written to a table, open it when it is used.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under `DATA_ENCRYPTION_KEYS`: a
comma-separated list whose first key seals and every key opens (MultiFernet), so a key is
rotated without downtime:

1. put a new key first (`python -m platform_common.sealing new-key` prints one), keep the
   old ones after it, restart the services: new secrets are sealed with the new key, old
   ones still open;
2. reseal what is stored under the old keys (each owner of sealed columns offers a command
   that calls `reseal()` row by row);
3. drop the old key from the list.

A sealed value is text starting with `SEALED_PREFIX`, so a column can hold a value sealed
before the rotation and a value sealed after it; `is_sealed` tells a migration what is
still plain.
"""

from __future__ import annotations

import sys
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from infra.settings import get_settings

SEALED_PREFIX = "fernet:"


class SealingError(ValueError):
    """A sealed value that no configured key opens (tampered, or its key was dropped)."""


@cache
def _keys(spec: str) -> MultiFernet:
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    if not keys:
        raise SealingError("DATA_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise SealingError(f"DATA_ENCRYPTION_KEYS holds a key that is not a Fernet key: {exc}"
                           ) from None


def _fernet() -> MultiFernet:
    return _keys(get_settings().data_encryption_keys)


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


def seal(secret: str) -> str:
    """The text to store for `secret`."""
    return SEALED_PREFIX + _fernet().encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(stored: str) -> str:
    """The secret behind a stored value; raises SealingError when no key opens it."""
    if not is_sealed(stored):
        raise SealingError("the value is not sealed")
    try:
        return _fernet().decrypt(stored[len(SEALED_PREFIX):].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise SealingError("no configured key opens this value") from exc


def reseal(stored: str) -> str:
    """The same secret sealed under the current (first) key; plain text gets sealed."""
    if not is_sealed(stored):
        return seal(stored)
    try:
        token = _fernet().rotate(stored[len(SEALED_PREFIX):].encode("ascii"))
    except (InvalidToken, ValueError) as exc:
        raise SealingError("no configured key opens this value") from exc
    return SEALED_PREFIX + token.decode("ascii")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["new-key"]:
        print(Fernet.generate_key().decode("ascii"))
        return 0
    print("usage: python -m platform_common.sealing new-key", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
