"""The dbt CLI for analysts, with the platform's settings applied.

    python -m warehouse.dbt_cli build
    python -m warehouse.dbt_cli test --select shop_metric_daily

Exports the env vars of warehouse.refresh.dbt_env(), installs the chdb driver hook and
runs dbt's own CLI on the repo's dbt project. Embedded mode: the warehouse directory
admits one process, so stop the serving API first (or ask it to refresh: POST
/internal/refresh), otherwise this fails with `Cannot lock file .../status`.
"""

from __future__ import annotations

import sys

from warehouse.refresh import prepare


def main(argv: list[str] | None = None) -> None:
    prepare()
    from dbt.cli.main import cli

    cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="dbt")


if __name__ == "__main__":
    main()
