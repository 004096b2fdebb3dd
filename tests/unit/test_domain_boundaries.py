"""Each domain owns its tables: no module's SQL names another domain's table.

The owners are declared once in `marketplace_core/table_owners.py` (every `CREATE TABLE` of
`marketplace_core/migrations/*.sql` must have one). This test reads the string literals of
every module under `marketplace_core/<domain>/` (and of the API layer, which owns no table),
finds the tables they name after `from`, `join`, `into`, `update`, `table`, ... and fails
for a table another domain owns, unless the pair is in `ALLOWED` below.

`ALLOWED` is the list of the violations still in the code, each with its reason. It only
shrinks: an entry that no longer occurs fails the test too, so a fix removes its line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace_core.table_owners import MODULE_OWNERS, NOT_DOMAINS, PACKAGE_DIR, table_owners

ROOT = PACKAGE_DIR.parent

# (module path relative to the repository, table) -> why it is still there. Empty since
# issue 11: a new entry needs a reason a reviewer accepts (prefer a function of the owner).
ALLOWED: dict[tuple[str, str], str] = {}

_TABLE_AFTER = re.compile(
    r"\b(?:from|join|into|update|table|truncate|references)\s+"
    r"(?:only\s+)?(?:if\s+(?:not\s+)?exists\s+)?(?:public\.)?([a-z_][a-z0-9_]*)",
    re.IGNORECASE,
)
# `from a x, b y` / `from a, b`: the tables after a comma in a FROM list
_FROM_LIST = re.compile(
    r"\bfrom\s+([a-z_][a-z0-9_]*(?:\s+(?:as\s+)?[a-z_][a-z0-9_]*)?"
    r"(?:\s*,\s*[a-z_][a-z0-9_]*(?:\s+(?:as\s+)?[a-z_][a-z0-9_]*)?)+)",
    re.IGNORECASE,
)


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def string_literals(source: str) -> Iterator[str]:
    """Every string literal of a module but its docstrings; an f-string's literal parts
    joined by a placeholder."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    in_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    parts.append(value.value)
                    in_fstring.add(id(value))
                else:
                    parts.append(" _expr_ ")
            yield "".join(parts)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and id(node) not in in_fstring
        ):
            yield node.value


def tables_named(sql: str, known: set[str]) -> set[str]:
    found = {m.group(1).lower() for m in _TABLE_AFTER.finditer(sql)}
    for m in _FROM_LIST.finditer(sql):
        for item in m.group(1).split(","):
            found.add(item.split()[0].lower())
    return found & known


def domain_modules() -> Iterator[tuple[str, Path]]:
    """(owning domain or 'api', path) for every module in a domain package or the API."""
    for package in sorted(PACKAGE_DIR.iterdir()):
        if not package.is_dir() or package.name.startswith(("_", ".")):
            continue
        if package.name in NOT_DOMAINS and package.name != "api":
            continue
        for path in sorted(package.rglob("*.py")):
            yield package.name, path
    for name in sorted(MODULE_OWNERS):
        yield name, PACKAGE_DIR / f"{name}.py"


def violations() -> dict[tuple[str, str], str]:
    """(module, table) -> the table's owner, for every table named outside its domain."""
    owners = table_owners()
    known = set(owners)
    found: dict[tuple[str, str], str] = {}
    for domain, path in domain_modules():
        rel = path.relative_to(ROOT).as_posix()
        for literal in string_literals(path.read_text()):
            for table in tables_named(literal, known):
                if owners[table] != domain:
                    found[(rel, table)] = owners[table]
    return found


def test_every_table_has_an_owner() -> None:
    owners = table_owners()  # raises LookupError naming the tables without one
    assert owners


def test_no_module_names_another_domains_table() -> None:
    found = violations()
    new = sorted(f"{module} names {table} (owned by {found[(module, table)]})"
                 for module, table in found if (module, table) not in ALLOWED)
    assert not new, (
        "call the owning domain's functions instead of its SQL:\n  " + "\n  ".join(new))


def test_allow_list_only_shrinks() -> None:
    stale = sorted(f"{module}: {table}" for module, table in ALLOWED
                   if (module, table) not in violations())
    assert not stale, "fixed: remove these entries from ALLOWED:\n  " + "\n  ".join(stale)


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("select id from shops s join merchants m on m.id = s.merchant_id", {"shops", "merchants"}),
        ("update product_variants set stock = stock - %s", {"product_variants"}),
        ("insert into stock_reservations (id) values (%s)", {"stock_reservations"}),
        ("delete from orders where id = %s", {"orders"}),
        ("select 1 from products p, product_variants v where v.product_id = p.id",
         {"products", "product_variants"}),
        ("Orders are placed by buyers", set()),
        ("the variant's stock", set()),
    ],
)
def test_scanner_finds_tables(sql: str, tables: set[str]) -> None:
    assert tables_named(sql, set(table_owners())) == tables
