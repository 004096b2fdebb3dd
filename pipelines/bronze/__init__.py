"""Bronze: Kafka topics landed as append-only Delta tables, one row per Kafka record."""
