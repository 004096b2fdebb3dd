"""The payment provider the settings choose (`settings.psp_provider`), bound to the caller's
transaction where it needs one. Today only "simulator" exists (`payments.simulator`)."""

from __future__ import annotations

from marketplace_core.db import Connection
from marketplace_core.errors import DomainError, ErrorCode
from marketplace_core.payments.psp import PaymentProvider, provider_name
from marketplace_core.payments.simulator import SimulatedPsp


def provider_for(conn: Connection) -> PaymentProvider:
    """The configured provider, bound to the caller's transaction where it needs one."""
    name = provider_name()
    if name == "simulator":
        return SimulatedPsp(conn)
    raise DomainError(ErrorCode.PSP_ERROR, f"unknown payment provider {name!r}")
