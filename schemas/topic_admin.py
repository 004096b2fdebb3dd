"""Creating the catalog's topics on the broker (auto-create is off) and aligning their
configs: an operator's step (`make up` runs it), apart from the catalog itself so that
clients reading the catalog (the POS terminal) need no platform settings.
"""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from infra.settings import get_settings
from schemas.topics import CATALOG, Topic


def ensure_topics(replication_factor: int = 1) -> list[str]:
    """Create missing topics and align configs of existing ones; returns the created names."""
    s = get_settings()
    admin = AdminClient({"bootstrap.servers": s.kafka_bootstrap_servers})
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [t for t in CATALOG if t.name not in existing]
    created: list[str] = []
    if missing:
        futures = admin.create_topics([
            NewTopic(t.name, num_partitions=t.partitions,
                     replication_factor=replication_factor, config=t.config)
            for t in missing
        ])
        for name, fut in futures.items():
            fut.result(timeout=30)
            created.append(name)
    present = [t for t in CATALOG if t.name in existing]
    if present:
        altered = admin.incremental_alter_configs([_config_resource(t) for t in present])
        for fut in altered.values():
            fut.result(timeout=30)
    return created


def _config_resource(topic: Topic) -> ConfigResource:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

    return ConfigResource(
        ConfigResource.Type.TOPIC,
        topic.name,
        incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in topic.config.items()
        ],
    )
