import dagster as dg

from orchestration.defs.ads import assets

defs = dg.Definitions(assets=[assets.ad_billing])
