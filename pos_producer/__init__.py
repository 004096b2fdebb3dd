"""Client for smart-POS terminals: an offline-first till that records every event in a
durable SQLite outbox and sends it as signed Avro to Kafka, exactly once per
(device_id, receipt_number) after consumer dedupe, in order per device.

Public API (the simulator and other callers use only these names):
`DeviceConfig`, `Terminal`, `Item`, `StockLevel`, `UnknownReceiptError`; the values and
their records live in `pos_producer.events`. Everything else is internal.
"""

from pos_producer.config import DeviceConfig
from pos_producer.events import Item, StockLevel
from pos_producer.terminal import Terminal, UnknownReceiptError

__all__ = ["DeviceConfig", "Item", "StockLevel", "Terminal", "UnknownReceiptError"]
