"""Addresses as logs and the API may show them: enough to recognise, not to use."""

from __future__ import annotations


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}" if host else f"{local[:1]}***@***"


def mask_phone(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    return f"+{''.join(digits[:3])} *** ** {''.join(digits[-2:])}" if len(digits) > 5 else "***"


def mask_token(token: str) -> str:
    return f"{token[:4]}…{token[-4:]}" if len(token) > 12 else "…"


def mask(channel: str, address: str) -> str:
    if channel == "email":
        return mask_email(address)
    if channel == "sms":
        return mask_phone(address)
    return mask_token(address)
