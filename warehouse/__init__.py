"""The warehouse layer: ClickHouse (embedded chdb by default, a server with CLICKHOUSE_URL)
and the dbt project in `dbt/` that builds the marts.

- `warehouse.client.get_client()`: a clickhouse-connect client for this thread.
- `warehouse.refresh.run_dbt(args)`: run dbt in-process, one refresh at a time.
- `warehouse.dbt_chdb.install()`: lets dbt-clickhouse talk to the embedded engine.
- `python -m warehouse.dbt_cli <dbt args>`: the dbt CLI with the settings applied.
"""
