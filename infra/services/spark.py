"""Spark runs inside the jobs that use it (local mode); this entry only caches its jars."""

from __future__ import annotations

import subprocess
import sys

from infra.services.base import Health, Service
from infra.settings import get_settings
from infra.spark_jars import resolved_jars


class SparkJars(Service):
    name = "spark-jars"

    def __init__(self) -> None:
        self.managed = get_settings().spark_master.startswith("local")

    def install(self) -> None:
        if resolved_jars():
            return
        # A child process: the JVM that resolves the jars must not stay in this one.
        subprocess.run([sys.executable, "-m", "pipelines.spark_session"], check=True)

    def launch(self) -> None:  # nothing runs between jobs
        pass

    def start(self) -> None:
        self.install()

    def stop(self) -> bool:
        return False

    def health(self) -> Health:
        jars = resolved_jars()
        if not self.managed:
            return Health(True, f"external master {get_settings().spark_master}")
        return Health(bool(jars), f"{len(jars)} jars cached" if jars else "jars not resolved")
