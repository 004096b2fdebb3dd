"""The transactional outbox: how every committed change of the core reaches Kafka once.

Domain services call `emit(...)` inside the transaction that makes the change; the relay
(`python -m marketplace_core.outbox.relay`) publishes the rows in order.
"""

from marketplace_core.outbox.writer import OutboxSchemaError, batched, emit

__all__ = ["OutboxSchemaError", "batched", "emit"]
