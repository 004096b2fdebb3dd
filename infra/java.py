"""Finding a JDK new enough for a service (Apicurio 3.3 needs 21+, Kafka and Spark 17+)."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from infra.settings import get_settings

JVM_ROOTS = (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm"))


def _major(java: Path) -> int:
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else 0


@cache
def java_for(min_major: int) -> str:
    """Path of a `java` binary of at least `min_major`: JAVA_HOME from settings, then the
    JDKs installed under the usual roots (newest first), then the one on PATH."""
    s = get_settings()
    candidates: list[Path] = []
    if s.java_home:
        candidates.append(Path(s.java_home) / "bin" / "java")
    for root in JVM_ROOTS:
        if root.is_dir():
            candidates += sorted(root.glob("*/bin/java"), reverse=True)
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    best = max(((_major(c), c) for c in candidates if c.exists()), default=(0, Path("java")))
    if best[0] < min_major:
        raise RuntimeError(
            f"no JDK {min_major}+ found (best: {best[0]} at {best[1]}); install one and set "
            "JAVA_HOME, e.g. apt-get install openjdk-21-jre-headless or a Temurin JDK"
        )
    return str(best[1])
