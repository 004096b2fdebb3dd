"""GS1 barcodes: EAN-13, EAN-8 and UPC-A check digits.

All three use the same mod-10 check (`platform_common.gs1`): from the rightmost data digit
leftwards the weights alternate 3, 1, 3, ...; the check digit brings the weighted sum to a
multiple of 10.
Barcodes are kept as the digit strings the scanner reports (no normalisation of UPC-A to
its 13-digit form).
"""

from __future__ import annotations

from enum import StrEnum

from marketplace_core.errors import ErrorCode, ValidationError
from platform_common.gs1 import gs1_check_digit as gs1_check_digit  # shared with the POS

KYRGYZSTAN_GS1_PREFIX = "470"


class BarcodeKind(StrEnum):
    EAN13 = "EAN-13"
    EAN8 = "EAN-8"
    UPCA = "UPC-A"


_KIND_BY_LENGTH = {13: BarcodeKind.EAN13, 12: BarcodeKind.UPCA, 8: BarcodeKind.EAN8}


def _is_valid(code: str, length: int) -> bool:
    if len(code) != length or not code.isascii() or not code.isdigit():
        return False
    return gs1_check_digit(code[:-1]) == int(code[-1])


def is_valid_ean13(code: str) -> bool:
    return _is_valid(code, 13)


def is_valid_ean8(code: str) -> bool:
    return _is_valid(code, 8)


def is_valid_upca(code: str) -> bool:
    return _is_valid(code, 12)


def barcode_kind(code: str) -> BarcodeKind | None:
    """The symbology of a valid code, or None if it is not a valid EAN-13/EAN-8/UPC-A."""
    kind = _KIND_BY_LENGTH.get(len(code))
    if kind is None or not _is_valid(code, len(code)):
        return None
    return kind


def validate_barcode(code: str) -> str:
    """The code with surrounding whitespace removed; raises INVALID_BARCODE if not valid."""
    cleaned = code.strip()
    if barcode_kind(cleaned) is None:
        raise ValidationError(
            ErrorCode.INVALID_BARCODE,
            f"{code!r} is not a valid EAN-13, EAN-8 or UPC-A barcode (length or check digit)",
        )
    return cleaned


def ean13_with_check(prefix12: str) -> str:
    """A full EAN-13 from its first 12 digits."""
    if len(prefix12) != 12 or not prefix12.isascii() or not prefix12.isdigit():
        raise ValueError(f"EAN-13 needs 12 data digits, got {prefix12!r}")
    return prefix12 + str(gs1_check_digit(prefix12))


def ean8_with_check(prefix7: str) -> str:
    """A full EAN-8 from its first 7 digits."""
    if len(prefix7) != 7 or not prefix7.isascii() or not prefix7.isdigit():
        raise ValueError(f"EAN-8 needs 7 data digits, got {prefix7!r}")
    return prefix7 + str(gs1_check_digit(prefix7))
