"""Analysts' read-only SQL over the warehouse (POST /analytics/sql).

`guard` decides which text may run (one SELECT over the warehouse database, nothing that
reaches outside it), `runner` runs it on an engine session locked read-only with a time,
row, thread and memory limit, `audit` writes one line per query, `schemas` is the HTTP
shape. The route is `serving_api.routers.analyst_sql`.
"""
