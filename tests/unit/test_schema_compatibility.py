"""The schema-compatibility check: Avro resolution rules on throwaway schemas, the
compatibility levels, and `python -m schemas.compatibility` on the real catalog (a
modified copy in a temp dir stands in for a bad change; the real .avsc files are not
touched)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines import confluent_avro
from schemas.compatibility import (
    SCHEMA_DIR,
    can_read,
    check,
    check_git,
    describe,
    explain,
    main,
    parse,
    validate,
)
from schemas.topics import CATALOG, POS_SALES, Topic

REPO = SCHEMA_DIR.parent
DECIMAL_12_2 = {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}


def record(*fields: dict[str, Any], name: str = "Sale", **extra: Any) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "kg.test",
                       "fields": list(fields), **extra})


def f(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


BASE = record(f("id", "string"), f("qty", "int"), f("price", DECIMAL_12_2))


# --- records ------------------------------------------------------------------------------

def test_adding_a_field_with_a_default_is_backward_compatible() -> None:
    new = record(f("id", "string"), f("qty", "int"), f("price", DECIMAL_12_2),
                 f("note", ["null", "string"], default=None))
    assert check(new, [BASE], "BACKWARD") == []
    assert check(new, [BASE], "FULL") == []  # the old reader skips the new field


def test_adding_a_field_without_a_default_is_not() -> None:
    new = record(f("id", "string"), f("qty", "int"), f("price", DECIMAL_12_2),
                 f("note", "string"))
    reasons = check(new, [BASE], "BACKWARD")
    assert len(reasons) == 1
    assert "Sale.note" in reasons[0] and "no default" in reasons[0]
    assert check(new, [BASE], "FORWARD") == []  # old readers simply skip it


def test_removing_a_field_with_a_default_is_backward_but_not_forward_without_one() -> None:
    old = record(f("id", "string"), f("note", "string", default=""))
    new = record(f("id", "string"))
    assert check(new, [old], "BACKWARD") == []
    assert check(new, [old], "FORWARD") == []  # the old reader falls back to its default
    old_required = record(f("id", "string"), f("note", "string"))
    assert check(new, [old_required], "BACKWARD") == []
    forward = check(new, [old_required], "FORWARD")
    assert forward and "version 1 cannot read" in forward[0] and "Sale.note" in forward[0]


def test_renaming_a_field_needs_an_alias() -> None:
    old = record(f("device_id", "string"))
    renamed = record(f("terminal_id", "string"))
    reasons = explain(renamed, old)
    assert reasons and reasons[0].startswith("Sale.terminal_id:") and "alias" in reasons[0]
    assert can_read(record(f("terminal_id", "string", aliases=["device_id"])), old)


def test_renaming_a_record_needs_an_alias_and_the_namespace_does_not_count() -> None:
    old = record(f("id", "string"))
    assert "renamed" in explain(record(f("id", "string"), name="Receipt"), old)[0]
    assert can_read(record(f("id", "string"), name="Receipt", aliases=["kg.test.Sale"]), old)
    moved = json.dumps({**json.loads(old), "namespace": "kg.other"})
    assert can_read(moved, old)  # records match by unqualified name


def test_nested_records_and_named_references() -> None:
    item = {"type": "record", "name": "Item", "fields": [f("qty", "int")]}
    old = record(f("items", {"type": "array", "items": item}), f("first", ["null", "Item"],
                                                                 default=None))
    item_long = {"type": "record", "name": "Item", "fields": [f("qty", "long")]}
    new = record(f("items", {"type": "array", "items": item_long}),
                 f("first", ["null", "kg.test.Item"], default=None))
    assert can_read(new, old)
    item_str = {"type": "record", "name": "Item", "fields": [f("qty", "string")]}
    bad = record(f("items", {"type": "array", "items": item_str}),
                 f("first", ["null", "Item"], default=None))
    reasons = explain(bad, old)
    assert any(r.startswith("Sale.items[].qty:") for r in reasons), reasons
    assert any(r.startswith("Sale.first") and "qty" in r for r in reasons), reasons


def test_recursive_schemas_terminate() -> None:
    tree = record(f("value", "int"),
                  f("children", {"type": "array", "items": "Node"}), name="Node")
    wider = record(f("value", "long"),
                   f("children", {"type": "array", "items": "Node"}), name="Node")
    assert can_read(wider, tree)
    assert not can_read(tree, wider)


def test_a_bad_default_is_refused() -> None:
    new = record(f("id", "string"), f("qty", "int", default="one"))
    assert any("bad default" in r for r in validate(new))
    assert check(new, [record(f("id", "string"))])


# --- primitives, logical types, decimals ------------------------------------------------

@pytest.mark.parametrize(("writer", "reader", "ok"), [
    ("int", "long", True), ("int", "double", True), ("long", "float", True),
    ("float", "double", True), ("string", "bytes", True), ("bytes", "string", True),
    ("long", "int", False), ("double", "float", False), ("string", "int", False),
    ("boolean", "int", False), ("null", "string", False),
])
def test_primitive_promotions(writer: str, reader: str, ok: bool) -> None:
    assert can_read(record(f("x", reader)), record(f("x", writer))) is ok


def test_int_to_long_is_backward_but_not_forward() -> None:
    old, new = record(f("qty", "int")), record(f("qty", "long"))
    assert check(new, [old], "BACKWARD") == []
    assert check(new, [old], "FORWARD")


def test_changing_the_decimal_scale_is_refused() -> None:
    scale_3 = {**DECIMAL_12_2, "scale": 3}
    reasons = explain(record(f("price", scale_3)), record(f("price", DECIMAL_12_2)))
    assert reasons == ["Sale.price: decimal scale changed from 2 to 3 (the same unscaled "
                       "digits would mean another amount)"]


def test_decimal_precision_may_only_widen() -> None:
    wider = {**DECIMAL_12_2, "precision": 18}
    narrower = {**DECIMAL_12_2, "precision": 10}
    assert can_read(record(f("p", wider)), record(f("p", DECIMAL_12_2)))
    assert "precision narrowed" in explain(record(f("p", narrower)),
                                           record(f("p", DECIMAL_12_2)))[0]


def test_a_decimal_stays_a_decimal_and_bytes_is_not_fixed() -> None:
    assert not can_read(record(f("p", "bytes")), record(f("p", DECIMAL_12_2)))
    assert not can_read(record(f("p", DECIMAL_12_2)), record(f("p", "bytes")))
    fixed = {"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal",
             "precision": 12, "scale": 2}
    assert can_read(record(f("p", fixed)), record(f("p", fixed)))
    assert not can_read(record(f("p", DECIMAL_12_2)), record(f("p", fixed)))
    assert "size" in explain(record(f("p", {**fixed, "size": 6})), record(f("p", fixed)))[0]
    assert "scale" in explain(record(f("p", {**fixed, "scale": 4})), record(f("p", fixed)))[0]


def test_logical_types_keep_their_meaning() -> None:
    uuid = {"type": "string", "logicalType": "uuid"}
    millis = {"type": "long", "logicalType": "timestamp-millis"}
    micros = {"type": "long", "logicalType": "timestamp-micros"}
    assert can_read(record(f("t", millis)), record(f("t", millis)))
    assert can_read(record(f("id", "string")), record(f("id", uuid)))  # dropping is fine
    added = explain(record(f("id", uuid)), record(f("id", "string")))
    assert added and "adds logical type uuid" in added[0]
    changed = explain(record(f("t", micros)), record(f("t", millis)))
    assert changed and "timestamp-millis to timestamp-micros" in changed[0]
    # the underlying types must resolve: a uuid is a string, a timestamp a long
    assert not can_read(record(f("t", millis)), record(f("t", uuid)))
    assert not can_read(record(f("t", {"type": "int", "logicalType": "date"})),
                        record(f("t", millis)))
    assert describe(parse(millis)) == "long (timestamp-millis)"
    # an annotation on the wrong type is ignored, as the spec says
    assert describe(parse({"type": "string", "logicalType": "timestamp-millis"})) == "string"


# --- unions, enums, arrays, maps ----------------------------------------------------------

def test_unions_both_ways() -> None:
    plain = record(f("x", "string"))
    nullable = record(f("x", ["null", "string"], default=None))
    assert can_read(nullable, plain)  # reader union takes the writer's string
    reasons = explain(plain, nullable)  # the writer may have written null
    assert reasons and "union branch null" in reasons[0]
    assert can_read(record(f("x", ["null", "string", "long"], default=None)), nullable)
    # removing a branch the writer used is refused
    removed = explain(record(f("x", ["null", "long"], default=None)), nullable)
    assert removed and "string" in removed[0]
    # a promotion inside a union
    assert can_read(record(f("x", ["null", "long"], default=None)),
                    record(f("x", ["null", "int"], default=None)))


def test_union_branch_removal_is_backward_incompatible_but_forward_compatible() -> None:
    old = record(f("x", ["null", "string", "long"], default=None))
    new = record(f("x", ["null", "string"], default=None))
    assert check(new, [old], "BACKWARD")
    assert check(new, [old], "FORWARD") == []


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "Status", "symbols": list(symbols), **extra}


def test_widening_an_enum() -> None:
    old = record(f("s", enum("ACTIVE", "OFFLINE")))
    new = record(f("s", enum("ACTIVE", "OFFLINE", "MAINTENANCE")))
    assert check(new, [old], "BACKWARD") == []
    forward = check(new, [old], "FORWARD")  # old readers meet MAINTENANCE
    assert forward and "MAINTENANCE" in forward[0]
    with_default = record(f("s", enum("ACTIVE", "OFFLINE", default="ACTIVE")))
    assert can_read(with_default, new)
    assert not can_read(record(f("s", enum("ACTIVE"))), old)  # narrowing


def test_arrays_and_maps() -> None:
    old = record(f("a", {"type": "array", "items": "int"}),
                 f("m", {"type": "map", "values": "int"}))
    new = record(f("a", {"type": "array", "items": "long"}),
                 f("m", {"type": "map", "values": "double"}))
    assert can_read(new, old)
    reasons = explain(old, new)
    assert [r.split(":")[0] for r in reasons] == ["Sale.a[]", "Sale.m{}"]
    assert not can_read(record(f("a", {"type": "map", "values": "int"})),
                        record(f("a", {"type": "array", "items": "int"})))


# --- levels -------------------------------------------------------------------------------

def test_transitive_levels_check_every_version() -> None:
    v1 = record(f("id", "string"))
    v2 = record(f("id", "string"), f("n", "int", default=0))
    v3 = record(f("id", "string"), f("n", "int"))  # reads v2, not v1
    assert check(v3, [v1, v2], "BACKWARD") == []
    reasons = check(v3, [v1, v2], "BACKWARD_TRANSITIVE")
    assert len(reasons) == 1 and "version 1" in reasons[0]
    assert check(v3, [v1, v2], "NONE") == []
    assert check(v3, [], "FULL_TRANSITIVE") == []
    with pytest.raises(ValueError):
        check(v3, [v1], "SIDEWAYS")


def test_full_needs_both_directions() -> None:
    old = record(f("id", "string"))
    added_required = record(f("id", "string"), f("n", "int"))
    added_optional = record(f("id", "string"), f("n", "int", default=0))
    assert check(added_required, [old], "FORWARD") == []
    assert check(added_required, [old], "FULL")
    assert check(added_optional, [old], "FULL_TRANSITIVE") == []


def test_pipelines_still_import_can_read() -> None:
    assert confluent_avro.can_read is can_read
    text = (SCHEMA_DIR / POS_SALES.schema_file).read_text()
    assert confluent_avro.can_read(text, text)


# --- the command on the catalog -----------------------------------------------------------

def test_every_catalog_schema_is_valid_and_reads_itself() -> None:
    for topic in CATALOG:
        text = (SCHEMA_DIR / topic.schema_file).read_text()
        assert validate(text) == [], topic.name
        assert explain(text, text) == [], topic.name


def test_the_working_tree_passes_the_git_check() -> None:
    done = subprocess.run([sys.executable, "-m", "schemas.compatibility"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for topic in CATALOG:
        assert any(line.split()[:2] in (["OK", topic.name], ["NEW", topic.name])
                   for line in lines), (topic.name, done.stdout)


def _copy_of_schemas(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _pos_sale_changed(tmp_path: Path) -> Path:
    """A copy of the schemas with pos_sale.avsc changed in two incompatible ways."""
    schemas = _copy_of_schemas(tmp_path)
    path = schemas / POS_SALES.schema_file
    sale = json.loads(path.read_text())
    changed = copy.deepcopy(sale)
    for fld in changed["fields"]:
        if fld["name"] == "device_id":
            fld["name"] = "terminal_id"  # renamed without an alias
        if fld["name"] == "items":
            for item_field in fld["type"]["items"]["fields"]:
                if item_field["name"] == "unit_price":
                    item_field["type"]["scale"] = 3
    path.write_text(json.dumps(changed, indent=2))
    return schemas


def test_an_incompatible_change_fails_the_command(tmp_path: Path) -> None:
    original = (SCHEMA_DIR / POS_SALES.schema_file).read_text()
    schemas = _pos_sale_changed(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "schemas.compatibility", "--schema-dir", str(schemas)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert any(line.startswith("INCOMPATIBLE") and " pos.sales " in line
               for line in out.splitlines()), out
    assert "PosSale.terminal_id" in out and "alias" in out
    assert "PosSale.items[].unit_price: decimal scale changed from 2 to 3" in out
    assert "incompatible change in pos.sales" in done.stderr
    others = [t for t in CATALOG if t is not POS_SALES]
    assert all(f"INCOMPATIBLE  {t.name} " not in out for t in others), out
    assert (SCHEMA_DIR / POS_SALES.schema_file).read_text() == original  # untouched


def test_check_git_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schemas = _pos_sale_changed(tmp_path)
    results = {r.topic: r for r in check_git(CATALOG, "HEAD", schemas)}
    assert results["pos.sales"].status == "INCOMPATIBLE"
    assert len(results["pos.sales"].reasons) == 2
    # the same change is fine where compatibility is not enforced
    assert {r.status for r in check_git([POS_SALES], "HEAD", schemas, level="NONE")} == {"OK"}
    assert main(["--against", "git:HEAD", "--topic", "pos.sales",
                 "--schema-dir", str(schemas)]) == 1
    assert main(["--against", "git:no-such-ref-anywhere"]) == 2
    capsys.readouterr()


def test_a_new_topic_and_an_unparsable_file(tmp_path: Path) -> None:
    schemas = _copy_of_schemas(tmp_path)
    brand_new = Topic(name="test.brand_new", key="id", schema_file="test/brand_new.avsc",
                      partitions=1, retention_ms=1)
    (schemas / "test").mkdir()
    (schemas / brand_new.schema_file).write_text(record(f("id", "string")))
    results = check_git([brand_new, POS_SALES], "HEAD", schemas)
    assert [r.status for r in results] == ["NEW", "OK"]
    assert "no previous version" in results[0].lines()[0]
    (schemas / POS_SALES.schema_file).write_text("{not json")
    broken = check_git([POS_SALES], "HEAD", schemas)
    assert broken[0].status == "INCOMPATIBLE" and "invalid schema" in broken[0].reasons[0]
    (schemas / POS_SALES.schema_file).unlink()
    missing = check_git([POS_SALES], "HEAD", schemas)
    assert missing[0].status == "INCOMPATIBLE" and "cannot read" in missing[0].reasons[0]


def test_all_versions_walks_the_history() -> None:
    results = check_git([POS_SALES], "HEAD", SCHEMA_DIR, all_versions=True)
    assert results[0].status == "OK", results[0].reasons
    assert results[0].compared_with[-1] == "git:HEAD"
