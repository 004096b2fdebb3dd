"""Mailpit, the local mail server the notifications' e-mails go to: built from source with
`go install` (through the Go module proxy), SMTP on MAILPIT_SMTP_PORT, its web UI and HTTP
API (`/api/v1/messages`) on MAILPIT_HTTP_PORT; mail kept in `.local/data/mailpit`."""

from __future__ import annotations

import httpx

from infra import process
from infra.golang import go_install
from infra.services.base import Health, Service
from infra.settings import get_settings

MAILPIT_MODULE = "github.com/axllent/mailpit@v1.33.1"


class Mailpit(Service):
    name = "mailpit"
    ready_timeout = 30.0

    def __init__(self) -> None:
        s = get_settings()
        self.s = s
        # An external SMTP relay in the settings: no local mail server to run.
        self.managed = s.notify_smtp_host_override is None
        self.binary = s.local_dir / "bin" / "mailpit"
        self.data = s.data_dir / "mailpit"

    def install(self) -> None:
        go_install(MAILPIT_MODULE, self.binary, what="Mailpit", expected="a minute or two")

    def launch(self) -> None:
        s = self.s
        self.data.mkdir(parents=True, exist_ok=True)
        process.spawn(
            self.name,
            [str(self.binary),
             "--smtp", f"{s.bind_host}:{s.mailpit_smtp_port}",
             "--listen", f"{s.bind_host}:{s.mailpit_http_port}",
             "--database", str(self.data / "mailpit.db"),
             # Local only: accept any sender, no TLS, keep the last 5,000 messages.
             "--smtp-auth-accept-any", "--smtp-auth-allow-insecure",
             "--max", "5000", "--disable-version-check"],
        )

    def health(self) -> Health:
        if not self.managed:
            return Health(True, f"external SMTP {self.s.notify_smtp_host}:"
                                f"{self.s.notify_smtp_port}")
        try:
            r = httpx.get(f"{self.s.mailpit_url}/api/v1/info", timeout=2)
            if r.status_code != 200:
                return Health(False, f"HTTP {r.status_code}")
            return Health(True, f"{self.s.mailpit_url} ({r.json().get('Messages', 0)} messages)")
        except (httpx.HTTPError, ValueError) as exc:
            return Health(False, str(exc) or type(exc).__name__)
