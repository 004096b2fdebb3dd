"""Apache Kafka 4.x in KRaft mode: one combined broker/controller, jars from Maven Central.

`infra/maven/kafka/pom.xml` pins the version; `mvn dependency:copy-dependencies` puts the
broker and its runtime jars in `.local/opt/kafka/libs`, and the broker runs with `java -cp`.
"""

from __future__ import annotations

import base64
import subprocess
import uuid

from confluent_kafka.admin import AdminClient

from infra import process
from infra.java import java_for
from infra.kafka_warmup import warm_up
from infra.services.base import Health, Service
from infra.settings import REPO_ROOT, get_settings

POM = REPO_ROOT / "infra" / "maven" / "kafka" / "pom.xml"
LOG4J = REPO_ROOT / "infra" / "kafka" / "log4j2.yaml"


class Kafka(Service):
    name = "kafka"
    ready_timeout = 90.0

    def __init__(self) -> None:
        s = get_settings()
        self.s = s
        self.managed = s.kafka_bootstrap_override is None
        self.libs = s.opt_dir / "kafka" / "libs"
        self.data = s.data_dir / "kafka"
        self.config = s.run_dir / "kafka-server.properties"

    def install(self) -> None:
        marker = self.libs / ".complete"
        if marker.exists() and marker.read_text() == POM.read_text():
            return
        print("  resolving the Kafka broker's jars from Maven Central (mvn)", flush=True)
        self.libs.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={self.libs}", "-DincludeScope=runtime"],
            check=True,
        )
        marker.write_text(POM.read_text())

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            java_for(17), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp", f"{self.libs}/*", main, *args,
        ]

    def _write_config(self) -> None:
        s = self.s
        host = s.bind_host
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{s.kafka_controller_port}",
            f"listeners=PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://{host}:{s.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.data}",
            # Topics are created by the platform (schemas/topics.py), never implicitly.
            "auto.create.topics.enable=false",
            "num.partitions=3",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            "offsets.topic.replication.factor=1",
            # One broker: 4 partitions for the internal topics instead of 50 each, so the
            # first consumer group and the first transactional producer on a fresh broker
            # do not wait for 50 partitions to be created and loaded.
            "offsets.topic.num.partitions=4",
            "transaction.state.log.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.retention.check.interval.ms=60000",
            "",
        ]))

    def _format_storage(self) -> None:
        if (self.data / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        print(f"  formatting KRaft storage in {self.data}", flush=True)
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                       "-c", str(self.config), "--ignore-formatted"),
            check=True, capture_output=True,
        )

    def launch(self) -> None:
        self._write_config()
        self._format_storage()
        process.spawn(
            self.name, self._java("kafka.Kafka", str(self.config), heap=self.s.kafka_heap)
        )

    def health(self) -> Health:
        try:
            admin = AdminClient({
                "bootstrap.servers": self.s.kafka_bootstrap_servers,
                "socket.timeout.ms": 2000,
                "logger": _QuietLogger(),  # type: ignore[dict-item]
            })
            meta = admin.list_topics(timeout=3)
            return Health(True, f"{len(meta.brokers)} broker(s), {len(meta.topics)} topic(s)")
        except Exception as exc:
            return Health(False, str(exc))

    #: bound on the warm-up (producer id + group coordinator) after the broker is healthy
    warmup_timeout = 90.0

    def after_start(self) -> None:
        from schemas.topic_admin import ensure_topics

        ensure_topics()
        # Healthy (metadata) is not ready: prove the producer-id path and the group
        # coordinator work before the first producer and consumer of ours arrive.
        warm_up(self.s.kafka_bootstrap_servers, timeout=self.warmup_timeout,
                say=lambda line: print(line, flush=True))


class _QuietLogger:
    """librdkafka logs connection refusals while the broker boots; health polling hides them."""

    def log(self, *args: object, **kwargs: object) -> None:
        pass

    def __getattr__(self, _name: str):
        return lambda *a, **k: None

