"""Barcode check digits (unit tests, no database)."""

from __future__ import annotations

import pytest

from marketplace_core.catalog.barcodes import (
    BarcodeKind,
    barcode_kind,
    ean8_with_check,
    ean13_with_check,
    gs1_check_digit,
    is_valid_ean8,
    is_valid_ean13,
    is_valid_upca,
    validate_barcode,
)
from marketplace_core.errors import DomainError, ErrorCode, ValidationError


@pytest.mark.parametrize("code", ["4006381333931", "5901234123457", "4600051000057",
                                  "0036000291452"])
def test_valid_ean13(code: str) -> None:
    assert is_valid_ean13(code)
    assert barcode_kind(code) is BarcodeKind.EAN13


@pytest.mark.parametrize("code", ["96385074", "40170725", "73513537"])
def test_valid_ean8(code: str) -> None:
    assert is_valid_ean8(code)
    assert barcode_kind(code) is BarcodeKind.EAN8


@pytest.mark.parametrize("code", ["036000291452", "012345678905", "042100005264"])
def test_valid_upca(code: str) -> None:
    assert is_valid_upca(code)
    assert barcode_kind(code) is BarcodeKind.UPCA
    # the same item as an EAN-13 is the UPC-A with a leading zero
    assert is_valid_ean13("0" + code)


@pytest.mark.parametrize("code", [
    "4006381333932",   # wrong check digit
    "4006381333930",
    "96385075",
    "036000291453",
    "400638133393",    # EAN-13 without its check digit: 12 digits, but not a valid UPC-A
    "40063813339311",  # 14 digits
    "1234567",         # 7 digits
    "",
    "40063813339a1",
    "４００６３８１３３３９３１",  # full-width digits are not ASCII digits
])
def test_invalid_codes(code: str) -> None:
    assert barcode_kind(code) is None
    with pytest.raises(ValidationError) as info:
        validate_barcode(code)
    assert info.value.code == ErrorCode.INVALID_BARCODE == "INVALID_BARCODE"
    assert isinstance(info.value, DomainError)


def test_length_specific_checks_do_not_cross() -> None:
    assert not is_valid_ean8("4006381333931")
    assert not is_valid_upca("96385074")
    assert not is_valid_ean13("036000291452")


def test_validate_strips_whitespace() -> None:
    assert validate_barcode(" 4006381333931\n") == "4006381333931"


def test_check_digit_and_builders() -> None:
    assert gs1_check_digit("400638133393") == 1
    assert gs1_check_digit("9638507") == 4
    assert gs1_check_digit("03600029145") == 2
    assert ean13_with_check("400638133393") == "4006381333931"
    assert ean8_with_check("9638507") == "96385074"


def test_kyrgyz_prefix_codes_are_valid() -> None:
    for item in range(200):
        code = ean13_with_check(f"470{item:09d}")
        assert code.startswith("470")
        assert is_valid_ean13(code)
        # any other last digit is rejected
        wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
        assert not is_valid_ean13(wrong)


@pytest.mark.parametrize("bad", ["47000000000", "4700000000000", "47000000000x"])
def test_ean13_with_check_needs_12_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        ean13_with_check(bad)
