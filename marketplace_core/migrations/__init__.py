"""SQL migrations, applied in file-name order by `marketplace_core.migrate`."""
