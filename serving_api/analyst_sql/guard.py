"""Which SQL an analyst may run: one SELECT over the warehouse database, and nothing that
reaches outside it.

The engine session itself is read-only (`readonly=1`, see `runner`), and that is what
stops writes, DDL, SET and SETTINGS, and the table functions that reach files, URLs, S3,
other servers and processes (file(), url(), s3(), deltaLake(), remote(), postgresql(),
executable(), sqlite(), hdfs(): tried, all refused with READONLY). readonly=1 does NOT
stop, and so this module refuses:

- several statements in one text (the embedded engine runs them all);
- INTO OUTFILE (it writes a file even in a read-only session);
- the scalar function file() (reads any local file), dictGet*/joinGet (other stores),
  and a few functions that read the server's configuration;
- tables outside the warehouse database: `system.*`, and the `lake` database, whose
  DeltaLake tables carry the S3 credentials; also `x IN db.table`;
- table functions other than a few generators (merge() reads other databases, chdb's
  python() reads the process's own Python objects).

The checks walk ClickHouse's own parse of the text (`EXPLAIN AST`), not regexes over it,
and the text that runs is ClickHouse's re-formatting of the one statement it parsed
(`formatQuery`), so what was checked is what runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Table functions that only generate rows from their arguments.
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateseries",
    "values", "view",
})
# Scalar functions that read outside the query's tables (compared lower-case; every
# `dict*` function too).
DENIED_FUNCTIONS = frozenset({
    "file", "joinget", "joingetornull", "catboostevaluate", "naivebayesclassifier",
    "getserversetting", "getmergetreesetting", "hascolumnintable", "getmacro",
    "getclienthttpheader", "filesystemavailable", "filesystemcapacity",
    "filesystemunreserved",
})
# `x IN name`: the right-hand side may name a table.
IN_FUNCTIONS = frozenset({
    "in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin",
    "globalnotnullin",
})
_TABLE_NAME = re.compile(r"^(?:(?P<db>[A-Za-z_][A-Za-z0-9_]*)\.)?[A-Za-z_][A-Za-z0-9_]*$")
_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
# "Function plus (children 1)", "TableIdentifier analytics.t (alias a)", "Literal 'x'"
_LINE = re.compile(r"^(?P<indent> *)(?P<kind>\w+)(?: (?P<text>.*?))?(?: \(children \d+\))?$")


@dataclass
class Node:
    kind: str
    text: str
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The node's name without an alias: "analytics.t" of "analytics.t (alias a)"."""
        return re.sub(r" \(alias [^)]*\)$", "", self.text)


def parse_ast(lines: list[str]) -> Node:
    """The tree of `EXPLAIN AST` output (one node per line, one space of indent per level)."""
    root: Node | None = None
    stack: list[tuple[int, Node]] = []
    for line in lines:
        m = _LINE.match(line.rstrip())
        if not m:
            raise ValueError(f"unexpected EXPLAIN AST line: {line!r}")
        depth, node = len(m["indent"]), Node(m["kind"], m["text"] or "")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            raise ValueError("EXPLAIN AST gave more than one statement")
        stack.append((depth, node))
    if root is None:
        raise ValueError("EXPLAIN AST gave nothing")
    return root


def violations(root: Node, database: str, output_format: str) -> list[str]:
    """Why the statement may not run (empty: it may). `output_format` is the FORMAT the
    client appended to the EXPLAIN query itself, which the parse attaches to the root."""
    problems: list[str] = []
    if root.kind != "SelectWithUnionQuery":
        kind = root.kind.removesuffix("Query") or root.kind
        return [f"only a SELECT may run here, not {kind}"]
    extra = list(root.children[1:])
    if extra and extra[-1].kind == "Identifier" and extra[-1].text == output_format:
        extra.pop()
    if extra:
        problems.append("FORMAT and INTO OUTFILE are not allowed (results come back as "
                        "JSON, Arrow or Parquet)")
    _walk(root, database, problems)
    return sorted(set(problems))


def _walk(node: Node, database: str, problems: list[str]) -> None:
    if node.kind == "Set":
        problems.append("SETTINGS are fixed for analysts' queries")
    elif node.kind == "TableIdentifier":
        _check_table(node.name, database, problems)
    elif node.kind == "TableExpression" and node.children and \
            node.children[0].kind == "Function":
        name = node.children[0].name
        if name.lower() not in ALLOWED_TABLE_FUNCTIONS:
            problems.append(f"table function {name}() is not allowed (only "
                            f"{', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})")
        for child in node.children[0].children:  # its arguments (view's subquery)
            _walk(child, database, problems)
        for child in node.children[1:]:
            _walk(child, database, problems)
        return
    elif node.kind == "Function":
        name = node.name.lower()
        if name in DENIED_FUNCTIONS or name.startswith("dict"):
            problems.append(f"function {node.name}() is not allowed")
        if name in IN_FUNCTIONS and node.children and len(node.children[0].children) == 2:
            rhs = node.children[0].children[1]
            if rhs.kind == "Identifier":
                _check_table(rhs.name, database, problems)
    for child in node.children:
        _walk(child, database, problems)


def _check_table(name: str, database: str, problems: list[str]) -> None:
    m = _TABLE_NAME.match(name)
    if m is None:
        problems.append(f"name tables plainly, as {database}.<table> or <table>: {name!r}")
    elif m["db"] is not None and m["db"] != database:
        problems.append(f"only the {database} database may be read, not {m['db']}")


def has_outfile(formatted_sql: str) -> bool:
    """INTO OUTFILE in ClickHouse's formatting of the statement (checked before it is even
    EXPLAINed; a string literal that merely contains the words is refused too)."""
    return bool(_OUTFILE.search(formatted_sql))


def explain_lines(result_rows: list[Any]) -> list[str]:
    return [str(row[0]) for row in result_rows]
