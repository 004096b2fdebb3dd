"""Sending POS sales to Kafka: idempotent producer, acks=all, Confluent Avro framing.

The schema is registered by the platform (`infra up` registers the catalog); the producer
only looks its id up, so a terminal can never introduce a new schema version by itself.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from infra.settings import get_settings
from pos_producer.events import PosSale
from schemas.registry import registry_client
from schemas.topics import POS_SALES, schema_str


class DeliveryError(RuntimeError):
    """A sale the broker did not acknowledge."""


class PosSaleProducer:
    def __init__(self, extra_config: dict[str, object] | None = None) -> None:
        s = get_settings()
        self._producer = Producer({
            "bootstrap.servers": s.kafka_bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "zstd",
            **(extra_config or {}),
        })
        self._value = AvroSerializer(
            registry_client(),
            schema_str(POS_SALES),
            conf={"auto.register.schemas": False, "use.latest.version": False},
        )
        self._key = StringSerializer("utf_8")
        self._errors: list[str] = []

    def send(self, sale: PosSale) -> None:
        ctx = SerializationContext(POS_SALES.name, MessageField.VALUE)
        self._producer.produce(
            POS_SALES.name,
            key=self._key(sale.device_id),
            value=self._value(sale.to_record(), ctx),
            on_delivery=self._on_delivery,
        )
        self._producer.poll(0)

    def send_raw(self, key: bytes | None, value: bytes) -> None:
        """Bytes as they are (tests use it to send corrupt events through the real path)."""
        self._producer.produce(POS_SALES.name, key=key, value=value,
                               on_delivery=self._on_delivery)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} sale(s) not acknowledged within {timeout}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError("; ".join(errors))

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")
