"""Can one Avro schema read data written with another? Avro schema resolution in pure
Python, the registry's compatibility levels on top of it, and `python -m
schemas.compatibility`, the check that refuses an incompatible change of a catalog schema.

Resolution follows the Avro specification (https://avro.apache.org/docs/1.11.1/specification/
#schema-resolution): records match by unqualified name (or the reader's aliases) and their
fields by name (or the reader field's aliases), fields the writer lacks need a default in
the reader, fields the reader lacks are skipped; unions resolve branch by branch in both
directions; enums need every written symbol (or a reader default); fixed sizes must agree;
arrays and maps resolve their items / values; int -> long -> float -> double and
string <-> bytes are promotions. Two rules are stricter than the specification because a
value that decodes can still mean something else: a decimal keeps its scale (and never
loses precision), and a logical type (uuid, timestamp-millis, date, ...) may be dropped by
the reader but never added or changed, on top of its underlying types resolving.

    explain(reader, writer)           -> reasons ("path: why"), [] when readable
    can_read(reader, writer)          -> bool
    check(candidate, previous, level) -> reasons under BACKWARD / FORWARD / FULL (+ _TRANSITIVE)

Command line (exit 0 = compatible, 1 = an incompatible or invalid schema, 2 = cannot check):

    python -m schemas.compatibility                      # working tree vs git HEAD (no network)
    python -m schemas.compatibility --against git:main --all-versions
    python -m schemas.compatibility --against registry   # vs every registered version
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from schemas.topics import Topic

SCHEMA_DIR = Path(__file__).resolve().parent
DEFAULT_LEVEL = "BACKWARD"  # what schemas/registry.py registers every subject with
LEVELS = (
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
    "FULL", "FULL_TRANSITIVE",
)


class SchemaError(ValueError):
    """The text is not an Avro schema this module can read."""


# --- parsing: JSON -> a graph of nodes, named-type references resolved ------------------

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

# (writer type, reader type) pairs Avro resolves by promotion.
_PROMOTIONS = frozenset({
    ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
    ("long", "double"), ("float", "double"), ("string", "bytes"), ("bytes", "string"),
})

# Logical types and the types they may annotate; elsewhere the spec says to ignore them.
_LOGICAL_BASES = {
    "decimal": {"bytes", "fixed"},
    "uuid": {"string", "fixed"},
    "date": {"int"},
    "time-millis": {"int"},
    "time-micros": {"long"},
    "timestamp-millis": {"long"},
    "timestamp-micros": {"long"},
    "timestamp-nanos": {"long"},
    "local-timestamp-millis": {"long"},
    "local-timestamp-micros": {"long"},
    "local-timestamp-nanos": {"long"},
    "duration": {"fixed"},
}

_NO_DEFAULT = object()


@dataclass(eq=False)
class Node:
    """One schema: a primitive, record, enum, fixed, array, map or union. Named types are
    shared (the same object wherever they are referenced), so recursive schemas are cycles."""

    type: str
    name: str | None = None  # full name of a record, enum or fixed
    aliases: tuple[str, ...] = ()  # full names
    fields: list[Field] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int | None = None
    items: Node | None = None  # array
    values: Node | None = None  # map
    branches: list[Node] = field(default_factory=list)  # union
    logical: str | None = None
    precision: int | None = None
    scale: int = 0


@dataclass(eq=False)
class Field:
    name: str
    type: Node
    default: Any = _NO_DEFAULT
    aliases: tuple[str, ...] = ()

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


def parse(schema: str | Any) -> Node:
    """Parse a schema (JSON text or already-loaded JSON) into a Node graph."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"not JSON: {exc}") from exc
    return _Parser().parse(schema, "")


class _Parser:
    def __init__(self) -> None:
        self.names: dict[str, Node] = {}

    def parse(self, data: Any, namespace: str) -> Node:
        if isinstance(data, str):
            return Node(data) if data in PRIMITIVES else self._reference(data, namespace)
        if isinstance(data, list):
            branches = [self.parse(b, namespace) for b in data]
            if any(b.type == "union" for b in branches):
                raise SchemaError("a union may not contain a union")
            return Node("union", branches=branches)
        if not isinstance(data, dict):
            raise SchemaError(f"not a schema: {data!r}")
        kind = data.get("type")
        if isinstance(kind, dict | list):  # {"type": {...}}: tolerated, the inner one counts
            return self.parse(kind, namespace)
        if not isinstance(kind, str):
            raise SchemaError(f"schema without a type: {data!r}")
        if kind in PRIMITIVES:
            return self._annotated(Node(kind), data)
        if kind in ("record", "error"):
            node, inner = self._named("record", data, namespace)
            fields = data.get("fields")
            if not isinstance(fields, list):
                raise SchemaError(f"record {node.name} has no fields list")
            for f in fields:
                if not isinstance(f, dict) or not isinstance(f.get("name"), str) or "type" not in f:
                    raise SchemaError(f"record {node.name}: bad field {f!r}")
                node.fields.append(Field(
                    name=f["name"], type=self.parse(f["type"], inner),
                    default=f.get("default", _NO_DEFAULT),
                    aliases=tuple(f.get("aliases", ())),
                ))
            if len({f.name for f in node.fields}) != len(node.fields):
                raise SchemaError(f"record {node.name} has two fields of the same name")
            return node
        if kind == "enum":
            node, _ = self._named("enum", data, namespace)
            node.symbols = tuple(data.get("symbols", ()))
            node.enum_default = data.get("default")
            if node.enum_default is not None and node.enum_default not in node.symbols:
                raise SchemaError(f"enum {node.name}: default {node.enum_default!r} "
                                  "is not one of its symbols")
            return node
        if kind == "fixed":
            node, _ = self._named("fixed", data, namespace)
            if not isinstance(data.get("size"), int):
                raise SchemaError(f"fixed {node.name} has no size")
            node.size = data["size"]
            return self._annotated(node, data)
        if kind == "array":
            if "items" not in data:
                raise SchemaError("array without items")
            return Node("array", items=self.parse(data["items"], namespace))
        if kind == "map":
            if "values" not in data:
                raise SchemaError("map without values")
            return Node("map", values=self.parse(data["values"], namespace))
        return self._reference(kind, namespace)  # {"type": "some.Named"}

    def _reference(self, name: str, namespace: str) -> Node:
        candidates = [name] if "." in name else [f"{namespace}.{name}" if namespace else name,
                                                  name]
        for candidate in candidates:
            if candidate in self.names:
                return self.names[candidate]
        raise SchemaError(f"unknown type {name!r} (named types must be defined before use)")

    def _named(self, kind: str, data: dict[str, Any], namespace: str) -> tuple[Node, str]:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(f"{kind} without a name")
        full, inner = _full_name(name, data.get("namespace"), namespace)
        if full in self.names:
            raise SchemaError(f"type {full} is defined twice")
        aliases = tuple(_full_name(a, None, inner)[0] for a in data.get("aliases", ()))
        node = Node(kind, name=full, aliases=aliases)
        self.names[full] = node  # before the fields: a record may refer to itself
        return node, inner

    @staticmethod
    def _annotated(node: Node, data: dict[str, Any]) -> Node:
        logical = data.get("logicalType")
        if not isinstance(logical, str):
            return node
        if logical in _LOGICAL_BASES and node.type not in _LOGICAL_BASES[logical]:
            return node  # an annotation on the wrong type is ignored (the spec says so)
        if logical == "decimal":
            precision, scale = data.get("precision"), data.get("scale", 0)
            if not isinstance(precision, int) or not isinstance(scale, int) or not (
                    precision > 0 and 0 <= scale <= precision):
                return node  # an invalid decimal is plain bytes / fixed
            node.precision, node.scale = precision, scale
        node.logical = logical
        return node


def _full_name(name: str, namespace: Any, enclosing: str) -> tuple[str, str]:
    """(full name, the namespace its nested definitions inherit)."""
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    space = namespace if isinstance(namespace, str) else enclosing
    return (f"{space}.{name}" if space else name), space


def _short(name: str | None) -> str:
    return name.rsplit(".", 1)[-1] if name else ""


def describe(node: Node) -> str:
    """A short human-readable type: `bytes decimal(12,2)`, `string (uuid)`, `array of int`."""
    if node.type == "union":
        return "union [" + ", ".join(describe(b) for b in node.branches) + "]"
    if node.type == "array":
        return f"array of {describe(node.items)}" if node.items else "array"
    if node.type == "map":
        return f"map of {describe(node.values)}" if node.values else "map"
    base = node.type if node.name is None else f"{node.type} {node.name}"
    if node.type == "fixed":
        base += f" (size {node.size})"
    if node.logical == "decimal":
        return f"{base} decimal({node.precision},{node.scale})"
    return f"{base} ({node.logical})" if node.logical else base


# --- defaults --------------------------------------------------------------------------

def default_problem(node: Node, value: Any) -> str | None:
    """Why `value` (JSON) is not a valid default for `node`, or None if it is."""
    t = node.type
    ok: bool
    if t == "union":  # a union's default belongs to its first branch
        return default_problem(node.branches[0], value) if node.branches else "empty union"
    if t == "null":
        ok = value is None
    elif t == "boolean":
        ok = isinstance(value, bool)
    elif t in ("int", "long"):
        bits = 31 if t == "int" else 63
        ok = isinstance(value, int) and not isinstance(value, bool) and (
            -(2 ** bits) <= value < 2 ** bits)
    elif t in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif t in ("string", "bytes"):
        ok = isinstance(value, str)
    elif t == "fixed":
        ok = isinstance(value, str) and len(value) == node.size
    elif t == "enum":
        ok = isinstance(value, str) and value in node.symbols
    elif t == "array":
        if not isinstance(value, list) or node.items is None:
            return f"{value!r} is not a list"
        return next((p for p in (default_problem(node.items, v) for v in value) if p), None)
    elif t == "map":
        if not isinstance(value, dict) or node.values is None:
            return f"{value!r} is not an object"
        return next((p for p in (default_problem(node.values, v) for v in value.values()) if p),
                    None)
    elif t == "record":
        if not isinstance(value, dict):
            return f"{value!r} is not an object"
        for f in node.fields:
            if f.name in value:
                problem = default_problem(f.type, value[f.name])
                if problem:
                    return f"field {f.name}: {problem}"
            elif not f.has_default:
                return f"field {f.name} is missing"
        return None
    else:
        return f"unknown type {t}"
    return None if ok else f"{json.dumps(value)} is not a valid {describe(node)}"


def validate(schema: str | Any) -> list[str]:
    """Problems within one schema: unparseable, or a field default that does not fit its
    type (Avro only notices when it needs the default, i.e. too late)."""
    try:
        root = parse(schema)
    except SchemaError as exc:
        return [f"invalid schema: {exc}"]
    reasons: list[str] = []
    seen: set[int] = set()

    def walk(node: Node, path: str) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if node.type == "record":
            for f in node.fields:
                if f.has_default:
                    problem = default_problem(f.type, f.default)
                    if problem:
                        reasons.append(f"{path}.{f.name}: bad default: {problem}")
                walk(f.type, f"{path}.{f.name}")
        for child in (node.items, node.values, *node.branches):
            if child is not None:
                walk(child, path + ("[]" if child is node.items else
                                    "{}" if child is node.values else ""))

    walk(root, _root_path(root))
    return reasons


# --- resolution ------------------------------------------------------------------------

def can_read(reader_schema: str, writer_schema: str) -> bool:
    """True if data written with `writer_schema` decodes with `reader_schema`."""
    return not explain(reader_schema, writer_schema)


def explain(reader_schema: str | Any, writer_schema: str | Any) -> list[str]:
    """Why data written with `writer_schema` cannot be read with `reader_schema`, one
    "path: reason" per problem (path = reader record name, fields, `[]` array items, `{}`
    map values); [] when it can."""
    try:
        reader = parse(reader_schema)
    except SchemaError as exc:
        return [f"the reader schema is invalid: {exc}"]
    try:
        writer = parse(writer_schema)
    except SchemaError as exc:
        return [f"the writer schema is invalid: {exc}"]
    return _Resolver().check(reader, writer, _root_path(reader))


def _root_path(node: Node) -> str:
    return _short(node.name) if node.name else "(root)"


def _names_match(reader: Node, writer: Node) -> bool:
    return _short(reader.name) == _short(writer.name) or writer.name in reader.aliases


def _affinity(reader: Node, writer: Node) -> int:
    """How closely a reader union branch resembles the writer's type (to explain a miss)."""
    if reader.type == writer.type:
        return 3 if reader.name is None or _names_match(reader, writer) else 2
    return 1 if (writer.type, reader.type) in _PROMOTIONS else 0


class _Resolver:
    def __init__(self) -> None:
        self.active: set[tuple[int, int]] = set()

    def check(self, reader: Node, writer: Node, path: str) -> list[str]:
        key = (id(reader), id(writer))
        if key in self.active:  # a recursive type met again: decided where it started
            return []
        self.active.add(key)
        try:
            return self._check(reader, writer, path)
        finally:
            self.active.discard(key)

    def _check(self, reader: Node, writer: Node, path: str) -> list[str]:
        if writer.type == "union":  # every branch the writer may have chosen must resolve
            reasons: list[str] = []
            for branch in writer.branches:
                where = path if len(writer.branches) == 1 else (
                    f"{path} (the writer's union branch {describe(branch)})")
                reasons += self.check(reader, branch, where)
            return reasons
        if reader.type == "union":  # some branch of the reader's must take the writer's type
            tried: list[tuple[int, list[str]]] = []
            for branch in reader.branches:
                reasons = self.check(branch, writer, path)
                if not reasons:
                    return []
                tried.append((_affinity(branch, writer), reasons))
            best = max(tried, key=lambda t: t[0], default=(0, []))
            if best[0] > 0:
                return best[1]
            return [f"{path}: the writer's {describe(writer)} matches no branch of the "
                    f"reader's {describe(reader)}"]
        if reader.type != writer.type:
            if (writer.type, reader.type) not in _PROMOTIONS:
                return [f"{path}: the writer's {describe(writer)} cannot be read as "
                        f"{describe(reader)} (type changed; not an Avro promotion)"]
            return self._logical(reader, writer, path)
        if reader.type == "record":
            return self._record(reader, writer, path)
        if reader.type == "enum":
            if not _names_match(reader, writer):
                return [_renamed(reader, writer, path)]
            unknown = [s for s in writer.symbols if s not in reader.symbols]
            if unknown and reader.enum_default is None:
                return [f"{path}: the writer's enum {writer.name} may write "
                        f"{', '.join(unknown)}, which the reader's enum does not have "
                        "(and it has no default symbol)"]
            return []
        if reader.type == "fixed":
            if not _names_match(reader, writer):
                return [_renamed(reader, writer, path)]
            if reader.size != writer.size:
                return [f"{path}: fixed {reader.name} changed size from {writer.size} "
                        f"to {reader.size}"]
            return self._logical(reader, writer, path)
        if reader.type == "array":
            assert reader.items is not None and writer.items is not None
            return self.check(reader.items, writer.items, f"{path}[]")
        if reader.type == "map":
            assert reader.values is not None and writer.values is not None
            return self.check(reader.values, writer.values, f"{path}{{}}")
        return self._logical(reader, writer, path)  # the same primitive

    def _record(self, reader: Node, writer: Node, path: str) -> list[str]:
        if not _names_match(reader, writer):
            return [_renamed(reader, writer, path)]
        written = {f.name: f for f in writer.fields}
        reasons: list[str] = []
        for f in reader.fields:
            source = written.get(f.name) or next(
                (written[a] for a in f.aliases if a in written), None)
            where = f"{path}.{f.name}"
            if source is not None:
                reasons += self.check(f.type, source.type, where)
            elif not f.has_default:
                reasons.append(
                    f"{where}: the reader needs field {f.name!r} ({describe(f.type)}) that "
                    "the writer's record does not have, and it has no default (a field added "
                    "without a default, or renamed without listing the old name in aliases)")
            else:
                problem = default_problem(f.type, f.default)
                if problem:
                    reasons.append(f"{where}: missing in the writer's record and its default "
                                   f"cannot fill it: {problem}")
        return reasons

    @staticmethod
    def _logical(reader: Node, writer: Node, path: str) -> list[str]:
        """The underlying types resolve; do the logical annotations keep the meaning?"""
        r, w = reader.logical, writer.logical
        if r == "decimal" or w == "decimal":
            if r != w:
                return [f"{path}: the writer's {describe(writer)} cannot be read as "
                        f"{describe(reader)} (a decimal must stay a decimal)"]
            reasons = []
            if reader.scale != writer.scale:
                reasons.append(f"{path}: decimal scale changed from {writer.scale} to "
                               f"{reader.scale} (the same unscaled digits would mean another "
                               "amount)")
            if (reader.precision or 0) < (writer.precision or 0):
                reasons.append(f"{path}: decimal precision narrowed from {writer.precision} "
                               f"to {reader.precision}")
            return reasons
        if r is None or r == w:  # the reader may ignore an annotation
            return []
        if w is None:
            return [f"{path}: the reader's {describe(reader)} adds logical type {r} that the "
                    f"writer's {describe(writer)} did not have (written values need not be "
                    f"valid {r})"]
        return [f"{path}: logical type changed from {w} to {r} ({describe(writer)} -> "
                f"{describe(reader)})"]


def _renamed(reader: Node, writer: Node, path: str) -> str:
    return (f"{path}: the writer's {writer.type} {writer.name} cannot be read as "
            f"{reader.type} {reader.name} (renamed; list the old name in the reader's aliases)")


# --- compatibility levels --------------------------------------------------------------

def _directions(level: str) -> tuple[bool, bool, bool]:
    """(new must read old, old must read new, against every previous version)."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}; one of {', '.join(LEVELS)}")
    base = level.removesuffix("_TRANSITIVE")
    return (base in ("BACKWARD", "FULL"), base in ("FORWARD", "FULL"),
            level.endswith("_TRANSITIVE"))


def check(candidate: str, previous: Sequence[str], level: str = DEFAULT_LEVEL,
          labels: Sequence[str] | None = None) -> list[str]:
    """Why `candidate` may not follow `previous` (registered versions, oldest first) under
    `level`; [] when it may. BACKWARD: the candidate reads data written with the latest
    version; FORWARD: the latest version reads data written with the candidate; FULL:
    both; *_TRANSITIVE: the same against every previous version; NONE: anything goes.
    `labels` names the versions in the reasons (default "version 1", ...)."""
    backward, forward, transitive = _directions(level)
    names = list(labels) if labels is not None else [
        f"version {i + 1}" for i in range(len(previous))]
    if len(names) != len(previous):
        raise ValueError("one label per previous version")
    reasons = validate(candidate)
    if reasons:
        return reasons
    chosen = range(len(previous)) if transitive else range(len(previous))[-1:]
    for i in chosen:
        if backward:
            reasons += [f"the new schema cannot read data written with {names[i]}: {r}"
                        for r in explain(candidate, previous[i])]
        if forward:
            reasons += [f"{names[i]} cannot read data written with the new schema: {r}"
                        for r in explain(previous[i], candidate)]
    return reasons


def is_compatible(candidate: str, previous: Sequence[str], level: str = DEFAULT_LEVEL) -> bool:
    return not check(candidate, previous, level)


# --- the check over the topic catalog ----------------------------------------------------

OK, NEW, INCOMPATIBLE = "OK", "NEW", "INCOMPATIBLE"


class CheckError(RuntimeError):
    """The check could not run (no git checkout, unknown ref, registry unreachable)."""


@dataclass
class TopicResult:
    topic: str
    schema_file: str
    status: str  # OK | NEW | INCOMPATIBLE
    compared_with: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        detail = (f"vs {', '.join(self.compared_with)}" if self.compared_with
                  else "no previous version")
        head = f"{self.status:<13} {self.topic:<24} {self.schema_file}  ({detail})"
        return [head, *(f"    - {r}" for r in self.reasons)]


def _candidate(topic: Topic, schema_dir: Path) -> tuple[str | None, list[str]]:
    path = schema_dir / topic.schema_file
    try:
        text = path.read_text()
    except OSError as exc:
        return None, [f"cannot read {path}: {exc.strerror or exc}"]
    return text, validate(text)


def _result(topic: Topic, candidate: str, previous: list[tuple[str, str]],
            level: str) -> TopicResult:
    """Compare against each (label, schema) in `previous`, oldest first, pairwise."""
    if not previous:
        return TopicResult(topic.name, topic.schema_file, NEW)
    reasons: list[str] = []
    for label, text in previous:
        reasons += check(candidate, [text], level, labels=[label])
    return TopicResult(topic.name, topic.schema_file, INCOMPATIBLE if reasons else OK,
                       [label for label, _ in previous], reasons)


def _git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=False, timeout=60)
    except FileNotFoundError as exc:
        raise CheckError("git is not installed") from exc


def _git_versions(ref: str, commit: str, schema_file: str,
                  all_versions: bool) -> list[tuple[str, str]]:
    """(label, text) of the file at `commit` -- and with `all_versions` every earlier
    committed version of it -- oldest first; [] when the file is not there."""
    def show(rev: str) -> str | None:
        done = _git(["show", f"{rev}:./{schema_file}"], SCHEMA_DIR)  # ./ = relative to schemas/
        return done.stdout if done.returncode == 0 else None

    latest = show(commit)
    if latest is None:
        return []
    versions: list[tuple[str, str]] = []
    if all_versions:
        log = _git(["log", "--format=%H", commit, "--", schema_file], SCHEMA_DIR)
        seen = {latest}
        for sha in reversed(log.stdout.split()):
            text = show(sha)
            if text is not None and text not in seen:
                seen.add(text)
                versions.append((f"git:{sha[:10]}", text))
    return [*versions, (f"git:{ref}", latest)]


def check_git(topics: Iterable[Topic], ref: str = "HEAD", schema_dir: Path = SCHEMA_DIR,
              level: str = DEFAULT_LEVEL, all_versions: bool = False) -> list[TopicResult]:
    """Each topic's schema in `schema_dir` against the same file in the git commit `ref`
    (and every earlier version of it with `all_versions`). A file not at `ref` is NEW."""
    _directions(level)
    done = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], SCHEMA_DIR)
    if done.returncode != 0:
        inside = _git(["rev-parse", "--is-inside-work-tree"], SCHEMA_DIR)
        if inside.returncode != 0:
            raise CheckError(f"{SCHEMA_DIR} is not in a git checkout")
        raise CheckError(f"git: {ref!r} is not a commit")
    commit = done.stdout.strip()
    results: list[TopicResult] = []
    for topic in topics:
        candidate, problems = _candidate(topic, schema_dir)
        if candidate is None or problems:
            results.append(TopicResult(topic.name, topic.schema_file, INCOMPATIBLE,
                                       reasons=problems))
            continue
        previous = _git_versions(ref, commit, topic.schema_file, all_versions)
        results.append(_result(topic, candidate, previous, level))
    return results


def subject_level(client: SchemaRegistryClient, subject: str) -> str:
    """The subject's compatibility level, else the registry's global one, else BACKWARD."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    for args in ((subject,), ()):
        try:
            level = str(client.get_compatibility(*args)).upper()
        except SchemaRegistryError:
            continue
        if level in LEVELS:
            return level
    return DEFAULT_LEVEL


def registered_versions(client: SchemaRegistryClient, subject: str) -> list[tuple[str, str]]:
    """(label, schema text) of every registered version of `subject`, oldest first; [] when
    the subject does not exist."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        versions = client.get_versions(subject)
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            return []
        raise
    found: list[tuple[str, str]] = []
    for version in sorted(versions):
        registered = client.get_version(subject, version)
        text = registered.schema.schema_str if registered.schema else None
        if text:
            found.append((f"registry v{version}", text))
    return found


def check_subject(client: SchemaRegistryClient, subject: str, candidate: str,
                  level: str | None = None) -> tuple[str, list[str], list[str]]:
    """(status, versions compared, reasons) for `candidate` against every registered
    version of `subject`, each with the subject's level (or `level`)."""
    problems = validate(candidate)
    if problems:
        return INCOMPATIBLE, [], problems
    previous = registered_versions(client, subject)
    if not previous:
        return NEW, [], []
    lvl = level or subject_level(client, subject)
    reasons: list[str] = []
    for label, text in previous:
        reasons += check(candidate, [text], lvl, labels=[label])
    return (INCOMPATIBLE if reasons else OK), [label for label, _ in previous], reasons


def check_registry(topics: Iterable[Topic], client: SchemaRegistryClient,
                   schema_dir: Path = SCHEMA_DIR, level: str | None = None) -> list[TopicResult]:
    """Each topic's schema against every registered version of its subject (the bronze
    jobs read every version with the newest schema, so each one counts, not only the
    latest). A subject that does not exist yet is NEW."""
    results: list[TopicResult] = []
    for topic in topics:
        candidate, problems = _candidate(topic, schema_dir)
        if candidate is None or problems:
            results.append(TopicResult(topic.name, topic.schema_file, INCOMPATIBLE,
                                       reasons=problems))
            continue
        status, compared, reasons = check_subject(client, topic.subject, candidate, level)
        results.append(TopicResult(topic.name, topic.schema_file, status, compared, reasons))
    return results


def _reachable(config: dict[str, object]) -> bool:
    """One quick request (3 s, no retries) before the real client's patient ones."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    probe = SchemaRegistryClient({**config, "timeout": 3, "max.retries": 0})
    try:
        probe.get_subjects()
    except Exception:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.compatibility",
        description="Refuse an incompatible change of a catalog schema: each topic's .avsc "
                    "against the same file at a git ref, or against every version "
                    "registered for its subject.")
    parser.add_argument("--against", default="git:HEAD", metavar="git:REF|registry",
                        help="git:REF (default git:HEAD, no network) or registry")
    parser.add_argument("--all-versions", action="store_true",
                        help="git mode: also every earlier committed version of each file "
                             "(registry mode always checks every registered version)")
    parser.add_argument("--level", type=str.upper, choices=LEVELS, default=None,
                        help="compatibility level (default: BACKWARD for git, the "
                             "subject's level for the registry)")
    parser.add_argument("--schema-dir", type=Path, default=SCHEMA_DIR,
                        help="where the candidate .avsc files are (default: this folder)")
    parser.add_argument("--topic", action="append", default=None,
                        help="only this topic (repeatable)")
    parser.add_argument("--skip-unreachable", action="store_true",
                        help="registry mode: exit 0 with SKIP when the registry does not answer")
    args = parser.parse_args(argv)

    from schemas.topics import CATALOG

    topics = [t for t in CATALOG if args.topic is None or t.name in args.topic]
    unknown = set(args.topic or ()) - {t.name for t in CATALOG}
    if unknown:
        parser.error(f"not in the catalog: {', '.join(sorted(unknown))}")
    try:
        if args.against == "registry":
            from schemas.registry import registry_client, registry_config

            config = registry_config()
            url = config["url"]
            if not _reachable(config):
                if args.skip_unreachable:
                    print(f"SKIP          schema registry at {url} is not reachable")
                    return 0
                raise CheckError(f"the schema registry at {url} is not reachable")
            level_text = args.level or "each subject's level"
            print(f"schema check: {args.schema_dir} against the registry at {url} "
                  f"({level_text})")
            from confluent_kafka.schema_registry.error import SchemaRegistryError

            try:
                results = check_registry(topics, registry_client(), args.schema_dir, args.level)
            except SchemaRegistryError as exc:
                raise CheckError(f"the schema registry answered: {exc}") from exc
        elif args.against.startswith("git:") and len(args.against) > 4:
            ref = args.against[4:]
            level = args.level or DEFAULT_LEVEL
            print(f"schema check: {args.schema_dir} against git:{ref} ({level}"
                  f"{', every committed version' if args.all_versions else ''})")
            results = check_git(topics, ref, args.schema_dir, level, args.all_versions)
        else:
            parser.error("--against takes git:REF or registry")
    except CheckError as exc:
        print(f"schema check: cannot check: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print("\n".join(result.lines()))
    bad = [r.topic for r in results if r.status == INCOMPATIBLE]
    counts = {s: sum(r.status == s for r in results) for s in (OK, NEW, INCOMPATIBLE)}
    print(f"schema check: {len(results)} topics, " +
          ", ".join(f"{n} {s}" for s, n in counts.items()))
    if bad:
        print(f"schema check FAILED: incompatible change in {', '.join(bad)} "
              "(see schemas/README.md, 'Evolving a schema')", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
