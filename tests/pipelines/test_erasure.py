"""Erasure on real Delta tables in MinIO: an erased pseudonym's rows leave bronze, silver
and the current-state table (matched in any pseudonym column), others stay, and a second
run (as after a replay from Kafka) finds nothing more."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from infra.settings import get_settings
from pipelines.erasure import apply_erasures
from pipelines.lake_catalog import by_name

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

ERASED, KEPT = "e" * 32, "k" * 32


def _uri(relative: str) -> str:
    return f"{get_settings().lake_root}/{relative}"


def _write(spark: Any, table: Any) -> None:
    day = date(2026, 11, 30)
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    rows = [("ev-1", ERASED, "p1"), ("ev-2", KEPT, "p1"), ("ev-3", KEPT, ERASED),
            ("ev-4", KEPT, "p2")]
    spark.createDataFrame(
        [(e, b"\x00raw", day) for e, _, _ in rows],
        "event_id string, value binary, kafka_date date",
    ).write.format("delta").save(_uri(table.bronze_path))
    spark.createDataFrame(
        [(e, a, t, at, day) for e, a, t in rows],
        "event_id string, author_pseudo_id string, target_id string, occurred_at timestamp, "
        "_event_date date",
    ).write.format("delta").partitionBy("_event_date").save(_uri(table.silver_path))
    spark.createDataFrame(
        [("p1", ERASED, "x", "ev-1"), ("p2", KEPT, "y", "ev-4")],
        "post_id string, author_pseudo_id string, target_id string, event_id string",
    ).write.format("delta").save(_uri(table.current_path))


def _ids(spark: Any, relative: str) -> set[str]:
    return {r[0] for r in spark.read.format("delta").load(_uri(relative))
            .select("event_id").collect()}


def test_erased_pseudonyms_leave_every_layer(spark: Any) -> None:
    table = replace(by_name("social_posts"), pseudonym_columns=("author_pseudo_id", "target_id"))
    _write(spark, table)
    dry = apply_erasures(spark, pseudo_ids=[ERASED], tables=[table], dry_run=True, log=print)
    assert dry[0].silver_rows == 2 and _ids(spark, table.silver_path) == {
        "ev-1", "ev-2", "ev-3", "ev-4"}

    [done] = apply_erasures(spark, pseudo_ids=[ERASED], tables=[table], log=print)
    assert (done.silver_rows, done.bronze_rows, done.current_rows) == (2, 2, 1)
    assert _ids(spark, table.silver_path) == {"ev-2", "ev-4"}
    assert _ids(spark, table.bronze_path) == {"ev-2", "ev-4"}
    assert _ids(spark, table.current_path) == {"ev-4"}

    [again] = apply_erasures(spark, pseudo_ids=[ERASED], tables=[table], log=print)
    assert (again.silver_rows, again.bronze_rows, again.current_rows) == (0, 0, 0)
    assert apply_erasures(spark, pseudo_ids=[], tables=[table]) == []
