import dagster as dg

from orchestration.defs.notify import assets

defs = dg.Definitions(assets=[assets.shop_notices])
