"""Prometheus for the local stack: the scrape configuration generated from the settings
(`config.py`), the alert rules (`rules/*.yml`) and their unit tests (`tests/*.yml`, run by
`promtool test rules` from pytest)."""
