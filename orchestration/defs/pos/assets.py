"""POS domain: sales landed from Kafka into the lake's bronze layer."""


import dagster as dg

from pipelines.bronze.pos_sales import land_available, table_path
from schemas.topics import POS_SALES

BRONZE_POS_SALES = dg.AssetKey(["bronze", "pos_sales"])


@dg.asset(
    key=BRONZE_POS_SALES,
    group_name="pos",
    kinds={"spark", "delta", "kafka"},
    description=f"Every record of Kafka topic `{POS_SALES.name}`, appended to a Delta table "
    "with its topic, partition and offset (Spark Structured Streaming, availableNow).",
    metadata={"topic": POS_SALES.name, "table": table_path()},
)
def bronze_pos_sales(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    result = land_available()
    context.log.info(f"landed {result.rows} record(s) in {result.batches} batch(es)")
    return dg.MaterializeResult(
        metadata={
            "rows_landed": result.rows,
            "batches": result.batches,
            "seconds": round(result.seconds, 1),
            "table": result.table_path,
        }
    )
