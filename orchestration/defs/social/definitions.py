import dagster as dg

from orchestration.defs.social import assets

defs = dg.Definitions(assets=[assets.explore_scores])
