"""The data-quality policy, as data: what the generated suites check, and how hard.

Suites are generated from the lake catalog and the Avro schemas (`suites.py`); this module
holds the few decisions that cannot be read from them: the bronze layout, which money
columns may be negative, which references between tables are checked, and how much of a
table a check reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from pipelines.landing import DECODE_ERRORS, META_COLUMNS


class Severity(StrEnum):
    """ERROR stops what is downstream (a blocking Dagster check); WARN only reports."""

    ERROR = "ERROR"
    WARN = "WARN"


class Layer(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"


# --- layout of the layers (pipelines/landing.py writes them) ------------------------------
BRONZE_COLUMNS: tuple[str, ...] = (
    "topic", "partition", "offset", "kafka_timestamp", "kafka_key", "schema_id", "value",
    "event_id", "event_time", "decode_error", "ingested_at", "kafka_date",
)
BRONZE_NOT_NULL: tuple[str, ...] = ("topic", "partition", "offset", "value")
BRONZE_KAFKA_ID: tuple[str, ...] = ("partition", "offset")  # one table = one topic
SILVER_META_COLUMNS: tuple[str, ...] = tuple(META_COLUMNS)
KNOWN_DECODE_ERRORS: tuple[str, ...] = tuple(DECODE_ERRORS)

# Partition columns: the read window of a check, and what retention deletes by.
PARTITION_COLUMN: dict[Layer, str] = {Layer.BRONZE: "kafka_date", Layer.SILVER: "_event_date"}

# --- money: every Avro decimal of scale 2 ---------------------------------------------------
MONEY_LIMIT = 10**10  # |x| < 10^10 KGS (decimal(12,2) cannot hold more: a typing bug)

# Money is never negative, except these columns (signed by design; see their .avsc docs).
MONEY_MAY_BE_NEGATIVE: dict[str, frozenset[str]] = {
    "pos_sales": frozenset({"total"}),  # a standalone discount's total is negative
    "core_pos_receipts": frozenset({"total", "net_amount"}),  # net_amount: signed effect
}

# Tables holding what devices sent, including what the core refused (the accepted events
# are core_pos_receipts): out-of-range values there are reported, not blocking.
DEVICE_SENT_TABLES: frozenset[str] = frozenset({"pos_sales", "pos_heartbeats",
                                                "pos_dead_letter"})

# --- time -----------------------------------------------------------------------------------
# An event time later than now + this is "far future" (a device clock, or a unit bug).
FUTURE_TOLERANCE = timedelta(days=1)


# --- references between tables ----------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """Every non-null `table.column` (silver) exists as `target_column` in the target's
    current-state table (`<target>_current`). Skipped, and said so, while the target is not
    in the catalog or not landed yet. WARN by default: topics land independently, so a
    reference may arrive a batch before what it points to."""

    table: str
    column: str
    target: str
    target_column: str
    severity: Severity = Severity.WARN

    @property
    def id(self) -> str:
        return f"{self.column}_in_{self.target}_current"


REFERENCES: tuple[Reference, ...] = (
    Reference("core_pos_receipts", "shop_id", "core_shops", "shop_id"),
    Reference("core_orders", "shop_id", "core_shops", "shop_id"),
    Reference("core_products", "shop_id", "core_shops", "shop_id"),
    Reference("core_variants", "product_id", "core_products", "product_id"),
    Reference("core_payments", "order_id", "core_orders", "order_id"),
    Reference("core_payouts", "payment_id", "core_payments", "payment_id"),
    Reference("core_refunds", "payment_id", "core_payments", "payment_id"),
)

# --- how much a check reads -------------------------------------------------------------------
# The latest WINDOW_DAYS partitions (by the partition column, ending at today at the latest),
# at most MAX_ROWS rows of them. Uniqueness is therefore checked within that window.
WINDOW_DAYS = 7
MAX_ROWS = 200_000
