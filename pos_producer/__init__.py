"""Client for smart-POS terminals: POS events as Avro on Kafka through the schema registry."""
