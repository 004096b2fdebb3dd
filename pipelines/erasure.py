"""Erasure in the lake: an erased account's rows leave every layer.

Accounts reach the lake only as pseudonyms (marketplace_core/accounts/pseudonyms.py). When
an account is erased the core deletes the pseudonym's salt, so nothing in the lake can be
tied to the person any more, and records the orphaned pseudonym. This job then deletes the
rows that carry it: in silver and `<table>_current` by the catalog's `pseudonym_columns`,
and in bronze by the event ids those silver rows had (bronze keeps raw bytes, not columns),
then VACUUMs so the deleted files are gone, not just unreferenced.

Kafka keeps records for its retention (30 days), and a lake replay from Kafka would land an
erased account's old events again; so the job re-applies every erasure younger than
`ERASURE_REPLAY_DAYS` on each run (deleting nothing when nothing came back). It runs with
retention: in the continuous landing once a day per table, or in Dagster's
`lake_retention` job when no landing holds the lake.

    python -m pipelines.erasure [--dry-run]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

from pipelines.lake_catalog import LAKE_TABLES, LakeTable

ERASURE_REPLAY_DAYS = 40  # Kafka's 30-day retention, and a margin


@dataclass
class TableErasure:
    table: str
    silver_rows: int = 0
    current_rows: int = 0
    bronze_rows: int = 0
    seconds: float = 0.0


def erased_pseudonyms(now: datetime | None = None) -> list[str]:
    """Pseudonyms of accounts erased within the replay window, from the core."""
    from marketplace_core.accounts.erasure import erased_pseudonyms_since
    from marketplace_core.db import connect

    since = (now or datetime.now(UTC)) - timedelta(days=ERASURE_REPLAY_DAYS)
    with connect() as conn:
        return [p for p, _ in erased_pseudonyms_since(conn, since)]


def _in_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def erase_table(spark: SparkSession, table: LakeTable, pseudo_ids: Sequence[str], *,
                dry_run: bool = False, log: Callable[[str], None] = print) -> TableErasure:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from pipelines.retention import _uri, _vacuum

    out = TableErasure(table.name)
    if not table.pseudonym_columns or not pseudo_ids:
        return out
    started = time.monotonic()
    match = " OR ".join(f"`{c}` IN ({_in_list(pseudo_ids)})" for c in table.pseudonym_columns)
    silver = _uri(table.silver_path)
    if not DeltaTable.isDeltaTable(spark, silver):
        return out
    keys = [r[0] for r in spark.read.format("delta").load(silver).where(match)
            .select(F.col(table.dedup_key).cast("string")).distinct().collect()]
    current = _uri(table.current_path) if table.current_path else None
    bronze = _uri(table.bronze_path)
    if dry_run:
        out.silver_rows = len(keys)
        return out
    if keys:
        out.bronze_rows = _delete(spark, bronze, f"event_id IN ({_in_list(keys)})")
        out.silver_rows = _delete(spark, silver, match)
    if current and DeltaTable.isDeltaTable(spark, current):
        out.current_rows = _delete(spark, current, match)
    if out.bronze_rows or out.silver_rows or out.current_rows:
        for path in (bronze, silver, current):
            if path:
                _vacuum(spark, path, 0, log)
    out.seconds = time.monotonic() - started
    log(f"  erasure {table.name}: {out.silver_rows} silver, {out.current_rows} current, "
        f"{out.bronze_rows} bronze row(s) deleted ({out.seconds:.1f}s)")
    return out


def _delete(spark: SparkSession, path: str, where: str) -> int:
    rows = spark.sql(f"DELETE FROM delta.`{path}` WHERE {where}").collect()
    return int(rows[0][0]) if rows else 0


def apply_erasures(spark: SparkSession, *, pseudo_ids: Sequence[str] | None = None,
                   tables: Sequence[LakeTable] = LAKE_TABLES, dry_run: bool = False,
                   log: Callable[[str], None] = print) -> list[TableErasure]:
    ids = list(pseudo_ids) if pseudo_ids is not None else erased_pseudonyms()
    if not ids:
        return []
    return [erase_table(spark, t, ids, dry_run=dry_run, log=log)
            for t in tables if t.pseudonym_columns]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    from pipelines.landing import exclusive_landing
    from pipelines.spark_session import build_session

    with exclusive_landing():
        spark = build_session("lake_erasure")
        try:
            results = apply_erasures(spark, dry_run=args.dry_run)
        finally:
            spark.stop()
    print(f"erasure: {sum(r.silver_rows for r in results)} silver row(s) "
          f"{'would be ' if args.dry_run else ''}deleted across {len(results)} table(s)")


if __name__ == "__main__":
    main()
