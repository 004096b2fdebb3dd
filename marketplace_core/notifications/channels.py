"""Channel gateways behind one interface each (seed 000 §25.1): `PushProvider`,
`SmsProvider`, `EmailProvider`.

* e-mail: real SMTP (`smtplib`) to the settings' server, the local Mailpit by default;
* push and SMS: simulators standing in for the outside gateways (FCM/APNs, an SMS
  aggregator) until a provider is chosen. Each can be told to answer `ok`, `fail` (an
  HTTP 500: retried), `timeout` (no answer within the provider timeout: retried) or
  `reject` (a permanent refusal such as an unknown token: next channel), and reports the
  delivery status later through the signed webhook `POST /notifications/webhook/{name}`,
  as a real gateway does.

A provider raises `DeliveryError` (`permanent` or not); anything else it raises is treated
as a transient failure by the dispatcher. `idempotent` providers accept the same
idempotency key twice without sending twice: the worker may retry an attempt whose outcome
a crash hid; for the others (SMTP) such an attempt is failed, never sent again.
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate

import httpx

from infra.settings import get_settings
from marketplace_core.notifications.signing import SIGNATURE_HEADER, webhook_signature

log = logging.getLogger("marketplace_core.notifications.channels")

SIM_MODES = ("ok", "fail", "timeout", "reject")


class DeliveryError(Exception):
    """A provider did not take the message. `permanent`: retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class PushProvider(ABC):
    name: str
    idempotent: bool = False

    @abstractmethod
    def send_push(self, *, token: str, title: str, body: str, priority: str,
                  idempotency_key: str) -> str:
        """Send; return the provider's reference of the message."""


class SmsProvider(ABC):
    name: str
    idempotent: bool = False

    @abstractmethod
    def send_sms(self, *, phone: str, text: str, idempotency_key: str) -> str:
        """Send; return the provider's reference of the message."""


class EmailProvider(ABC):
    name: str
    idempotent: bool = False

    @abstractmethod
    def send_email(self, *, to: str, subject: str, body: str, headers: dict[str, str],
                   idempotency_key: str) -> str:
        """Send; return the provider's reference of the message."""


class SmtpEmailProvider(EmailProvider):
    """Plain SMTP: one connection per message (a worker sends a few per second at most)."""

    name = "smtp"

    def __init__(self, host: str | None = None, port: int | None = None,
                 sender: str | None = None, timeout: float | None = None) -> None:
        s = get_settings()
        self.host = host or s.notify_smtp_host
        self.port = port or s.notify_smtp_port
        self.sender = sender or s.notify_email_from
        self.timeout = timeout or s.notify_provider_timeout_seconds

    def send_email(self, *, to: str, subject: str, body: str, headers: dict[str, str],
                   idempotency_key: str) -> str:
        # compat32 MIME with an explicit utf-8 Header: the default policy folds a long
        # Cyrillic subject into encoded words and readers drop the space between them.
        message = MIMEText(body, "plain", "utf-8")
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
        message["Date"] = formatdate(localtime=False)
        message_id = f"<{idempotency_key}@notify.bazaar.kg>"
        message["Message-ID"] = message_id
        for name, value in headers.items():
            message[name] = value
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("the mail server refused the recipient", permanent=True) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}") from exc
        return message_id


StatusCallback = Callable[[str, bytes, dict[str, str]], None]


def http_status_callback(provider: str, body: bytes, headers: dict[str, str]) -> None:
    """POST a status to the core's webhook (what the simulators do in the services)."""
    url = f"{get_settings().core_api_url}/notifications/webhook/{provider}"
    httpx.post(url, content=body, headers=headers, timeout=5).raise_for_status()


@dataclass
class _Simulated:
    ref: str
    to: str
    text: str


@dataclass
class SimulatedGateway:
    """A push or SMS gateway stand-in. `mode` decides how the next sends go; `sent` keeps
    what it accepted (tests read it); statuses wait in `pending` until `flush()` posts them
    (or, with `auto_report`, a background thread posts them shortly after)."""

    name: str
    mode: str = "ok"
    timeout: float = field(default_factory=lambda: get_settings().notify_provider_timeout_seconds)
    callback: StatusCallback | None = None
    auto_report: bool = False
    report_delay: float = 0.5
    sent: list[_Simulated] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0
    _by_key: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    idempotent = True

    def _send(self, to: str, text: str, idempotency_key: str) -> str:
        with self._lock:
            self.calls += 1
            if idempotency_key in self._by_key:  # a retry of what we already took
                return self._by_key[idempotency_key]
            mode = self.mode
        if mode == "fail":
            raise DeliveryError(f"{self.name}: HTTP 500 from the gateway")
        if mode == "timeout":
            time.sleep(self.timeout)
            raise DeliveryError(f"{self.name}: no answer within {self.timeout:g}s")
        if mode == "reject":
            raise DeliveryError(f"{self.name}: the gateway refused the address", permanent=True)
        ref = f"{self.name}-{uuid.uuid4().hex[:16]}"
        with self._lock:
            self._by_key[idempotency_key] = ref
            self.sent.append(_Simulated(ref, to, text))
            self.pending.append((ref, "delivered"))
        if self.auto_report:
            threading.Timer(self.report_delay, self._report_later).start()
        return ref

    def _report_later(self) -> None:
        for attempt in range(5):  # the row may not be recorded as sent yet: try again
            try:
                self.flush()
                return
            except Exception as exc:
                log.debug("status webhook of %s not accepted yet: %s", self.name, exc)
                time.sleep(self.report_delay * (attempt + 1))

    def flush(self, callback: StatusCallback | None = None) -> int:
        """Post every pending status to the webhook; returns how many were posted."""
        send = callback or self.callback or http_status_callback
        with self._lock:
            batch, self.pending = self.pending, []
        done = 0
        try:
            for ref, status in batch:
                body = json.dumps({"provider_ref": ref, "status": status}).encode()
                send(self.name, body, {SIGNATURE_HEADER: webhook_signature(body),
                                       "Content-Type": "application/json"})
                done += 1
        finally:
            with self._lock:
                self.pending[:0] = batch[done:]
        return done


class SimulatedPush(SimulatedGateway, PushProvider):
    def __init__(self, **kwargs: object) -> None:
        SimulatedGateway.__init__(self, name="push_simulator", **kwargs)  # type: ignore[arg-type]

    def send_push(self, *, token: str, title: str, body: str, priority: str,
                  idempotency_key: str) -> str:
        return self._send(token, f"{title}\n{body}", idempotency_key)


class SimulatedSms(SimulatedGateway, SmsProvider):
    def __init__(self, **kwargs: object) -> None:
        SimulatedGateway.__init__(self, name="sms_simulator", **kwargs)  # type: ignore[arg-type]

    def send_sms(self, *, phone: str, text: str, idempotency_key: str) -> str:
        return self._send(phone, text, idempotency_key)


@dataclass
class Providers:
    push: PushProvider
    email: EmailProvider
    sms: SmsProvider

    def for_channel(self, channel: str) -> PushProvider | EmailProvider | SmsProvider:
        if channel == "push":
            return self.push
        return self.email if channel == "email" else self.sms

    def names(self) -> dict[str, str]:
        return {"push": self.push.name, "email": self.email.name, "sms": self.sms.name}


def default_providers() -> Providers:
    """What the service uses: SMTP, and the simulators in the settings' modes, reporting
    their statuses to the core API's webhook."""
    s = get_settings()
    return Providers(
        push=SimulatedPush(mode=s.notify_push_simulator_mode, auto_report=True),
        email=SmtpEmailProvider(),
        sms=SimulatedSms(mode=s.notify_sms_simulator_mode, auto_report=True),
    )


WEBHOOK_PROVIDERS = ("push_simulator", "sms_simulator")
