"""Apicurio Registry 3.x: the Confluent Schema Registry REST API at `/apis/ccompat/v7`.

The runnable application is the `all` assembly its build attaches on Maven Central; it is
unpacked into `.local/opt/apicurio` and keeps its storage in the project's PostgreSQL.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile

import httpx

from infra import process
from infra.java import java_for
from infra.services.base import Health, Service
from infra.settings import get_settings

APICURIO_VERSION = "3.3.3"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"


class SchemaRegistry(Service):
    name = "schema-registry"
    ready_timeout = 120.0

    def __init__(self) -> None:
        s = get_settings()
        self.s = s
        self.managed = s.registry_url_override is None
        self.home = s.opt_dir / "apicurio"
        self.dist = s.opt_dir / "dist"

    def install(self) -> None:
        marker = self.home / ".version"
        if marker.exists() and marker.read_text() == APICURIO_VERSION:
            return
        archive = self.dist / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
        if not archive.exists():
            print(f"  fetching Apicurio Registry {APICURIO_VERSION} from Maven Central (~160 MB)",
                  flush=True)
            subprocess.run(
                ["mvn", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}",
                 f"-DoutputDirectory={self.dist}", "-Dtransitive=false"],
                check=True,
            )
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(self.home, filter="data")
        marker.write_text(APICURIO_VERSION)

    def launch(self) -> None:
        s = self.s
        env = {
            "QUARKUS_HTTP_HOST": s.bind_host,
            "QUARKUS_HTTP_PORT": str(s.registry_port),
            "QUARKUS_MANAGEMENT_HOST": s.bind_host,
            "QUARKUS_MANAGEMENT_PORT": str(s.registry_management_port),
            "APICURIO_STORAGE_KIND": "sql",
            "APICURIO_STORAGE_SQL_KIND": "postgresql",
            "APICURIO_DATASOURCE_URL": s.registry_jdbc_url,
            "APICURIO_DATASOURCE_USERNAME": s.postgres_user,
            "APICURIO_DATASOURCE_PASSWORD": s.postgres_password,
            "QUARKUS_LOG_CONSOLE_JSON": "false",
        }
        process.spawn(
            self.name,
            [java_for(21), f"-Xmx{s.registry_heap}", "-XX:+UseSerialGC",
             "-XX:TieredStopAtLevel=1", "-jar", str(self.home / "quarkus-run.jar")],
            env=env,
            cwd=self.home,
        )

    def health(self) -> Health:
        try:
            r = httpx.get(f"{self.s.schema_registry_url}/subjects", timeout=3)
            if r.status_code != 200:
                return Health(False, f"HTTP {r.status_code} from /subjects")
            return Health(True, f"{len(r.json())} subject(s)")
        except httpx.HTTPError as exc:
            return Health(False, str(exc) or type(exc).__name__)

    def after_start(self) -> None:
        # The platform, not the producers, registers schemas (BACKWARD compatibility).
        from schemas.registry import register_all

        register_all()
