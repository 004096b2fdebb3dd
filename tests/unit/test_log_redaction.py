"""Personal data and secrets are masked in every log record a process of ours creates."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from platform_common import log_redaction
from platform_common.log_redaction import redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMiLCJyb2xlIjoic2VsbGVyIn0.c2lnbmF0dXJlLXNpZ24"


@pytest.fixture
def redacting() -> Iterator[None]:
    previous = logging.getLogRecordFactory()
    log_redaction.install()
    log_redaction.install()  # idempotent: wrapped once
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)


@pytest.mark.parametrize(("text", "kept", "gone"), [
    ("sign-in failed for Aida.Kyzy@mail.kg", "sign-in failed for [email]", "Aida"),
    ("sms to +996 555 12-34-56 sent", "sms to [phone] sent", "555"),
    ("sms to 996700123456 and 0555 123 456", "[phone] and [phone]", "700"),
    ("courier +7 701 123 45 67", "courier [phone]", "701"),
    ("Authorization: Bearer abcdefghijklmnop", "Bearer [token]", "abcdefghijklmnop"),
    (f"token {JWT} expired", "token [jwt] expired", "eyJ"),
    ("device pos_Zx8kq2mLpQ7rT4vW9yB3nC6 refused", "device [device-token] refused", "Zx8k"),
    ("body password=hunter22&email=x", "password=[redacted]", "hunter22"),
    ('{"totp_code": "654321", "refresh_token": "r.t"}', '"totp_code": "[redacted]"', "654321"),
    ("delivery_code=123456 wrong", "delivery_code=[redacted] wrong", "123456"),
    ("seed fernet:gAAAAABlZ-x_y== stored", "seed [sealed] stored", "gAAAA"),
])
def test_redact_masks(text: str, kept: str, gone: str) -> None:
    masked = redact(text)
    assert kept in masked and gone not in masked


@pytest.mark.parametrize("text", [
    "order 550e8400-e29b-41d4-a716-446655440000 total 1500.00 KGS",
    "422 code=INVALID_TOTP status_code=200 took 0.0123456789 s",
    "applied 1234567 events in 12 batches",
])
def test_redact_keeps_ordinary_lines(text: str) -> None:
    assert redact(text) == text


def test_every_logger_gets_masked_records(redacting: None,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("any.library").warning("user %s phone %s", "a@b.kg", "+996555123456")
    logging.getLogger("marketplace_core.x").info({"email": "c@d.kg"})
    try:
        raise ValueError('Key (email)=(e@f.kg) already exists, code=123456')
    except ValueError:
        logging.getLogger("uvicorn.error").exception("failed for %(who)s", {"who": "g@h.kg"})
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    for secret in ("a@b.kg", "555123456", "c@d.kg", "e@f.kg", "123456", "g@h.kg"):
        assert secret not in text, secret
    assert "user [email] phone [phone]" in text and "Key (email)=([email])" in text


def test_uvicorn_access_lines_still_format(redacting: None) -> None:
    from uvicorn.logging import AccessFormatter

    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.1:5000", "GET", "/users?email=x@y.kg", "1.1", 200), None)
    line = AccessFormatter(fmt="%(client_addr)s %(request_line)s %(status_code)s",
                           use_colors=False).format(record)
    assert line == '10.0.0.1:5000 GET /users?email=[email] HTTP/1.1 200 OK'


def test_the_apps_install_it() -> None:
    previous = logging.getLogRecordFactory()
    try:
        logging.setLogRecordFactory(logging.LogRecord)
        from marketplace_core.api.app import create_app

        create_app("postgresql://unused/none", run_sweeper=False)
        assert log_redaction.installed()
    finally:
        logging.setLogRecordFactory(previous)
