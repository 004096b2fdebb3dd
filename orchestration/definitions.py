"""All of the platform's Dagster definitions: one folder per domain, merged here."""

import dagster as dg

from orchestration.defs.ads import definitions as ads
from orchestration.defs.lake import definitions as lake
from orchestration.defs.notify import definitions as notify
from orchestration.defs.quality import definitions as quality
from orchestration.defs.retention import definitions as retention
from orchestration.defs.social import definitions as social
from orchestration.defs.warehouse import definitions as warehouse
from platform_common import log_redaction

# The code location's runs log through this process: mask personal data and secrets.
log_redaction.install()

# Only one Definitions object may live at this module's scope (Dagster loads it).
defs = dg.Definitions.merge(ads.defs, lake.defs, notify.defs, quality.defs, retention.defs,
                            social.defs, warehouse.defs)
