"""The transactional core: the marketplace's system of record in PostgreSQL.

Each domain package owns its tables (catalog: merchants, shops, categories, products,
variants; pos: devices). Other code calls a domain's service functions, never its SQL.
"""
