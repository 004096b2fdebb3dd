"""`python -m marketplace_core.accounts ...` (see marketplace_core.accounts.cli)."""

from marketplace_core.accounts.cli import main

main()
