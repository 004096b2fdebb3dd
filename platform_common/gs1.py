"""The GS1 mod-10 check digit (EAN-13, EAN-8, UPC-A), shared by the catalog's barcode
validation and the POS simulator's generated barcodes: from the rightmost data digit
leftwards the weights alternate 3, 1, 3, ...; the check digit brings the weighted sum to a
multiple of 10."""

from __future__ import annotations


def gs1_check_digit(data: str) -> int:
    """The check digit for `data` (all digits of the code except the last one)."""
    if not data or not data.isascii() or not data.isdigit():
        raise ValueError(f"barcode data must be digits, got {data!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data)))
    return (10 - total % 10) % 10
