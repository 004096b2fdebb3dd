import dagster as dg

from orchestration.defs.warehouse import assets
from orchestration.defs.warehouse.resources import WarehouseRefresher

defs = dg.Definitions(
    assets=[assets.warehouse_models],
    resources={"warehouse": WarehouseRefresher()},
)
