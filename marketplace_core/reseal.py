"""Seal what is still plain, and reseal every sealed column under the current key.

The core's sealed columns (`platform_common.sealing`) are declared by their owners:
`marketplace_core.accounts.service.SEALED_COLUMNS` (TOTP seeds) and
`marketplace_core.pos.credentials.SEALED_COLUMNS` (device signing secrets).

    python -m marketplace_core.reseal               # key rotation: everything → first key
    python -m marketplace_core.reseal --plain-only  # only seal rows still plain

`apply_migrations` runs the plain-only pass after the SQL files, so rows written before
the columns were sealed (migration 0018) never stay plain. Key rotation (README,
"Security"): put the new key first in DATA_ENCRYPTION_KEYS and restart, run this
command, then drop the old key. A value no configured key opens is reported with its row
and left as it is (exit status 1): nothing is lost, and dropping a key that still seals
something is caught before it is dropped.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from psycopg import sql

from marketplace_core.db import Connection, connect
from platform_common.sealing import SEALED_PREFIX, SealingError, reseal

_BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    table: str
    key: str  # the primary key column (rows are walked in its order)
    column: str


@dataclass
class Report:
    resealed: int = 0
    unopenable: list[str] = field(default_factory=list)  # "table.key=value"


def sealed_columns() -> list[SealedColumn]:
    from marketplace_core.accounts.service import SEALED_COLUMNS as accounts
    from marketplace_core.pos.credentials import SEALED_COLUMNS as pos
    return [*accounts, *pos]


def reseal_column(conn: Connection, col: SealedColumn, *, plain_only: bool = False,
                  report: Report | None = None) -> Report:
    """Reseal (or, with `plain_only`, only seal) every non-null value of one column, in
    batches walked by primary key, in the caller's transaction."""
    report = report or Report()
    ident = {"t": sql.Identifier(col.table), "k": sql.Identifier(col.key),
             "c": sql.Identifier(col.column)}
    plain = sql.SQL(" and not starts_with({c}, %(prefix)s)").format(**ident) \
        if plain_only else sql.SQL("")
    select = sql.SQL(
        "select {k}, {c} from {t} where {c} is not null"
        " and (%(after)s::text is null or {k}::text > %(after)s){plain}"
        " order by {k}::text limit %(batch)s for update").format(plain=plain, **ident)
    update = sql.SQL("update {t} set {c} = %s where {k}::text = %s").format(**ident)
    after: str | None = None
    while True:
        rows = conn.execute(select, {"after": after, "prefix": SEALED_PREFIX,
                                     "batch": _BATCH}).fetchall()
        if not rows:
            return report
        for key, value in rows:
            after = str(key)
            try:
                conn.execute(update, (reseal(value), after))
            except SealingError:
                report.unopenable.append(f"{col.table}.{col.key}={after}")
                continue
            report.resealed += 1


def reseal_all(conn: Connection, *, plain_only: bool = False) -> Report:
    report = Report()
    for col in sealed_columns():
        reseal_column(conn, col, plain_only=plain_only, report=report)
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--plain-only"]):
        print("usage: python -m marketplace_core.reseal [--plain-only]", file=sys.stderr)
        return 2
    with connect() as conn, conn.transaction():
        report = reseal_all(conn, plain_only=bool(args))
    print(f"resealed {report.resealed} value(s) under the current key")
    for row in report.unopenable:
        print(f"NOT OPENED by any configured key (left as is): {row}", file=sys.stderr)
    return 1 if report.unopenable else 0


if __name__ == "__main__":
    raise SystemExit(main())
