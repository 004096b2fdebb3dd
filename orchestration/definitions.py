"""All of the platform's Dagster definitions: one folder per domain, merged here."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.pos.definitions import defs as pos_defs
from orchestration.defs.warehouse.definitions import defs as warehouse_defs

defs = dg.Definitions.merge(pos_defs, warehouse_defs)
